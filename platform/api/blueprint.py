"""The API's blueprint: flask-smorest's, with its credential rule declared on it.

``credentials`` says what a request to any of the blueprint's routes must
carry, checked once by the app before the view (see :mod:`timebank.platform.blueprints`):

- ``user``: a signed-in user (session or bearer token), else 401;
- ``scheme``: routes with ``<slug>`` pass the scheme gate
  (:func:`timebank.tenants.access.scheme_access`: 401, or 404 for a scheme
  the caller does not belong to) before the body is parsed; routes without a
  slug need a user;
- ``partner``: routes with ``<slug>`` admit the scheme's members and its partners'
  staff (who are not members), and with ``<partner_id>`` only that partner's staff
  and the scheme's coordinators (404 for anyone else), before the body is parsed;
- ``operator``: a platform operator (401, else 403 ``operator_only``).

``public`` names the blueprint's endpoints that anyone may call.

webargs builds a new instance of an argument schema given as a class on every
request; an instance is built once here, at import (marshmallow schemas keep no
state between loads).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import flask_smorest
from flask_smorest.utils import resolve_schema_instance

from timebank.platform.api.jsonbody import GuardedParser
from timebank.platform.api.text import Guarded

Credentials = Literal["user", "scheme", "partner", "operator"]


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = GuardedParser()

    def __init__(
        self,
        *args: Any,
        credentials: Credentials = "user",
        public: Iterable[str] = (),
        guardians: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.credentials: Credentials = credentials
        self.public_endpoints = frozenset(f"{self.name}.{endpoint}" for endpoint in public)
        # Scheme routes a child's guardian (not a member) may also call; the view checks whose.
        self.guardian_endpoints = frozenset(f"{self.name}.{endpoint}" for endpoint in guardians)

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        instance = resolve_schema_instance(schema)
        if not isinstance(instance, Guarded):
            # Every request schema keeps to the text/date/integer rules of api.text.
            raise TypeError(f"{type(instance).__name__} must derive from api.schemas.Strict")
        return super().arguments(instance, *args, **kwargs)
