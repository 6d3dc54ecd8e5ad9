"""The pages, one blueprint per audience (see ``timebank.platform.web.routes``)."""
