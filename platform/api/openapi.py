"""The OpenAPI document's error responses: problem+json, declared on every operation.

flask-smorest documents errors with its own JSON error schema; ours are
``application/problem+json`` bodies (``errors.problem``). :class:`ProblemApi`
registers its error response components with :class:`Problem` as schema and
that content type, and :class:`ProblemResponsesPlugin` adds the responses any
operation may give (400, 401, 403, 404, 422, 429) next to the ``default`` one.
"""

from __future__ import annotations

import http
from typing import Any

from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest.spec import prepare_response
from marshmallow import Schema, fields

from timebank.platform.api.errors import PROBLEM_JSON

COMMON_ERRORS = {
    "400": "BAD_REQUEST",
    "401": "UNAUTHORIZED",
    "403": "FORBIDDEN",
    "404": "NOT_FOUND",
    "422": "UNPROCESSABLE_ENTITY",
    "429": "TOO_MANY_REQUESTS",
}


class Problem(Schema):
    """An error (RFC 9457 problem details)."""

    type = fields.String(required=True, metadata={"description": "A URI naming the problem"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(
        required=True,
        metadata={"description": "Machine-readable: `validation_error`, `insufficient_balance` …"},
    )
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Validation errors by dotted field name (422 only)"},
    )


class ProblemApi(Api):
    """flask-smorest's ``Api`` documenting errors as problem+json."""

    ERROR_SCHEMA = Problem

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            content_type = self.DEFAULT_RESPONSE_CONTENT_TYPE
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                content_type = PROBLEM_JSON
            prepare_response(response, self.spec, content_type)
            self.spec.components.response(status.name, response, lazy=True)
        default: dict[str, Any] = {
            "description": "Any other error (problem+json)",
            "schema": self.ERROR_SCHEMA,
        }
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


class ProblemResponsesPlugin(BasePlugin):
    """Add the common problem+json responses to every operation."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for status, name in COMMON_ERRORS.items():
                responses.setdefault(status, name)
