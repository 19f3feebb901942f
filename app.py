"""trunklab: a terminal lab for carrier SIP trunking.

`python app.py` starts the lab on the default account; sub-commands run it headless:

    python app.py show [--json] [--reveal] [--db PATH]    print the account
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from store import Store, StoreError, resolve_db_path
from store.export import account_to_dict, account_to_text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trunklab", description="A terminal lab for carrier SIP trunking.")
    db_help = "SQLite file of the account (default: $TRUNKLAB_DB, else the user data directory)"
    parser.add_argument("--db", metavar="PATH", help=db_help)
    sub = parser.add_subparsers(dest="command")

    show = sub.add_parser("show", help="print the account: endpoints, trunk groups, numbers, firewall")
    show.add_argument("--db", metavar="PATH", help=db_help, default=argparse.SUPPRESS)
    show.add_argument("--json", action="store_true", help="one JSON object instead of text")
    show.add_argument("--reveal", action="store_true", help="print VoIP tokens in clear")
    return parser


async def cmd_show(args: argparse.Namespace) -> int:
    async with await Store.open(resolve_db_path(args.db)) as store:
        account = await store.account()
    if args.json:
        print(json.dumps(account_to_dict(account, reveal=args.reveal), indent=2))
    else:
        print(f"# {store.path}")
        print(account_to_text(account, reveal=args.reveal))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "show"  # the console UI replaces this default when it lands
    if command == "show" and not hasattr(args, "json"):
        args.json, args.reveal = False, False
    try:
        return asyncio.run({"show": cmd_show}[command](args))
    except StoreError as error:
        print(f"trunklab: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
