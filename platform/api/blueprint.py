"""The API's blueprint: flask-smorest's, with argument schemas built once.

webargs builds a new instance of an argument schema given as a class on every
request; an instance is built once here, at import (marshmallow schemas keep no
state between loads).
"""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask_smorest.utils import resolve_schema_instance

from timebank.platform.api.jsonbody import GuardedParser
from timebank.platform.api.text import Guarded


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = GuardedParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        instance = resolve_schema_instance(schema)
        if not isinstance(instance, Guarded):
            # Every request schema keeps to the text/date/integer rules of api.text.
            raise TypeError(f"{type(instance).__name__} must derive from api.schemas.Strict")
        return super().arguments(instance, *args, **kwargs)
