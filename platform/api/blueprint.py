"""The API's blueprint: flask-smorest's, with argument schemas built once.

webargs builds a new instance of an argument schema given as a class on every
request; an instance is built once here, at import (marshmallow schemas keep no
state between loads).
"""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask_smorest.utils import resolve_schema_instance


class Blueprint(flask_smorest.Blueprint):
    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        return super().arguments(resolve_schema_instance(schema), *args, **kwargs)
