"""QA's commands: the review page, its passwords, its database role; an image's Content Credentials."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from tasks.cli.common import (
    REVIEW_PORT,
    pipeline,
)
from tasks.settings import get_settings


def cmd_review_serve(args: argparse.Namespace) -> int:
    import uvicorn

    with pipeline(get_settings(), airflow=False) as settings:
        from tasks.context import RunContext
        from tasks.review.app import create_app

        if not settings.reviewers:
            print("warning: no reviewers configured (TRYON_REVIEWERS); nobody can sign in", file=sys.stderr)
        print(f"review page on http://{args.host}:{args.port}/")
        uvicorn.run(
            create_app(RunContext.from_settings(settings)),
            host=args.host,
            port=args.port,
            log_level="warning",
            proxy_headers=True,
            forwarded_allow_ips=settings.review_trusted_proxies,
        )
    return 0


def cmd_review_hash_password(args: argparse.Namespace) -> int:

    from tasks.review.auth import hash_password

    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("password: ")
    if not password:
        print("error: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def cmd_review_grant(args: argparse.Namespace) -> int:
    from tasks.ledger import ledger_from_settings
    from tasks.review.ledger_grants import grant_review_access

    settings = get_settings()
    try:
        statements = grant_review_access(ledger_from_settings(settings).engine, args.role)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"granted {args.role} the review page's access to the ledger ({len(statements)} statements)")
    return 0


def cmd_credentials(args: argparse.Namespace) -> int:
    """What a C2PA reader finds in an image file: the validation state, the signer, the actions
    and the ingredients of its Content Credentials (docs/rights.md)."""
    from tasks.credentials import read_credentials

    anchors = args.trust.read_text() if args.trust else None
    found = read_credentials(args.image.read_bytes(), trust_anchors=anchors)
    print(f"{args.image}: {found.describe()}")
    return 0 if found.state in ("Valid", "Trusted") else 1


def register(commands: Any) -> None:
    """The subcommands review and credentials."""
    credentials = commands.add_parser("credentials", help="read and verify an image's Content Credentials (C2PA)")
    credentials.add_argument("image", type=Path, help="a JPEG, e.g. one downloaded from storefront/")
    credentials.add_argument("--trust", type=Path, help="PEM certificates to trust as anchors (the signing CA)")
    credentials.set_defaults(func=cmd_credentials)
    review = commands.add_parser("review", help="the QA review page").add_subparsers(dest="review_command", required=True)
    serve = review.add_parser(
        "serve", help="serve the review page (flagged generations: approve publishes, reject with a reason)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=REVIEW_PORT)
    serve.set_defaults(func=cmd_review_serve, own_signals=True)
    hashing_pw = review.add_parser(
        "hash-password", help="print a password hash for TRYON_REVIEWERS (password from stdin or a prompt)"
    )
    hashing_pw.set_defaults(func=cmd_review_hash_password)
    grant = review.add_parser(
        "grant", help="give a PostgreSQL role exactly the review page's access to the ledger (run as the ledger's owner)"
    )
    grant.add_argument("role", help="the review page's database role")
    grant.set_defaults(func=cmd_review_grant)
