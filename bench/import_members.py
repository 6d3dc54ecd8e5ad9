"""Time a 10,000-row member import (not a test: prints rows/s).

    python bench/import_members.py [--rows 10000] [--database-url URL] [--batch-size 100]

With no ``--database-url`` it runs on a fresh SQLite file in a temporary
folder. A given database is migrated first (``db upgrade``) and gets a new
scheme of its own. The import runs inline, exactly as the job does in a
worker: validation of every row, then invitations (one audit row and one
mail each, mail to a temporary outbox) committed in batches.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    options = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="timebank-bench-"))
    url = options.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"

    from flask_migrate import upgrade

    from timebank.platform import tenancy
    from timebank.platform.app import create_app
    from timebank.platform.db import db
    from timebank.platform.identity.passwords import use_fast_hashing
    from timebank.platform.identity.services import register_user
    from timebank.platform.schemes.services import create_scheme
    from timebank.tenants.memberships import imports
    from timebank.tenants.templates import load_template

    app = create_app(
        {
            "DATABASE_URL": url,
            "REDIS_URL": None,
            "OUTBOX_DIR": str(folder / "outbox"),
            "IMPORT_BATCH_SIZE": options.batch_size,
            "LOG_LEVEL": "WARNING",
        }
    )
    use_fast_hashing()
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        upgrade()
        coordinator = register_user(
            email=f"coordinator-{tag}@bench.test",
            password="bench-password",
            name="Bench Coordinator",
        )
        scheme = create_scheme(
            name=f"Bench {tag}",
            slug=f"bench-{tag}",
            template="community",
            creator=coordinator,
            template_data=load_template("community"),
        )
        lines = ["name,email,role"]
        lines += [
            f"Person {n},person{n}-{tag}@bench.test,{'coordinator' if n % 50 == 0 else 'member'}"
            for n in range(options.rows)
        ]
        content = "\n".join(lines) + "\n"
        with tenancy.scheme_context(scheme.id):
            started = time.perf_counter()
            member_import = imports.start_import(
                scheme, actor=coordinator, filename="bench.csv", content=content, queue=False
            )
            result = imports.run_import(scheme.id, member_import.id)
            elapsed = time.perf_counter() - started
        db.session.remove()
    dialect = url.split(":", 1)[0]
    print(
        f"{options.rows} rows on {dialect} (batches of {options.batch_size}): "
        f"{elapsed:.1f} s, {options.rows / elapsed:.0f} rows/s; "
        f"invited {result['invited']}, skipped {result['skipped']}, "
        f"errors {len(result['errors'])}, status {result['status']}"
    )


if __name__ == "__main__":
    main()
