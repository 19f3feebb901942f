"""trunklab: a terminal lab for carrier SIP trunking.

    python app.py [--db PATH]                              the console (Textual UI)
    python app.py show [--json] [--reveal]                 print the account
    python app.py serve                                    run the agents, print SIP as it flows
    python app.py call inbound --to NUMBER [--via ADDR]    the PSTN calls a number through a gateway
    python app.py call outbound --to NUMBER --auth ip|proxy|header [--token TOKEN]
    python app.py check [--json]                           the seed's Verification Checklist
    python app.py scenario list | load NAME | report NAME  broken trunks to fix (workshops)
    python app.py reset [--yes] [--blank]                  back to the default account (or a new customer's)
    python app.py apply FILE [--dry-run]                   make the account equal to FILE (show --json --reveal)
    python app.py pbx-config KIND [--auth ip|proxy|header] [--reveal] [--out DIR]
                                                           a configuration for asterisk, freeswitch, kamailio,
                                                           baresip or linphone, for this account
    python app.py web [--host ADDRESS] [--port 8000]       the browser classroom: a lab per trainee, a dashboard

Every command takes --db PATH (default: $TRUNKLAB_DB, else the user data directory) and
--lab N|auto|A-B (lab N: addresses 127.0.N.0/24 and a database of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

from store import DEFAULT_PLAN, Store, StoreError, labs, resolve_db_path
from store.export import account_to_dict, account_to_text

DB_HELP = "SQLite file of the account (default: $TRUNKLAB_DB, else the user data directory; with --lab, the lab's own file)"
LAB_HELP = ("run lab N (0-254): addresses 127.0.N.0/24 and a database of its own; 'auto' takes the first "
            "free lab from 1, A-B the first free one in that range")
AGENT_COMMANDS = (None, "serve", "call", "check")  # the console (None) and the commands that bind addresses


def seconds(low: float, high: float):
    """An argparse type: a number of seconds from low to high."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value:g} s is out of range: give {low:g} to {high:g} seconds")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trunklab", description="A terminal lab for carrier SIP trunking.")
    parser.add_argument("--db", metavar="PATH", help=DB_HELP)
    parser.add_argument("--lab", metavar="N|auto", help=LAB_HELP)
    # a classroom console (started by `web`): the server holds its lab, and it ends with the server
    parser.add_argument("--web-session", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--db", metavar="PATH", help=DB_HELP, default=argparse.SUPPRESS)
        p.add_argument("--lab", metavar="N|auto", help=LAB_HELP, default=argparse.SUPPRESS)
        return p

    show = command("show", "print the account: endpoints, trunk groups, phone numbers, firewall")
    show.add_argument("--json", action="store_true", help="one JSON object instead of text")
    show.add_argument("--reveal", action="store_true", help="print VoIP tokens in clear")

    command("serve", "run the lab's agents until Ctrl-C, printing every SIP message and call event")

    call = command("call", "place one call, hold it a few seconds, print its ladder and audio")
    call.add_argument("direction", choices=("inbound", "outbound"))
    call.add_argument("--to", required=True, metavar="NUMBER", help="the number to dial (E.164)")
    call.add_argument("--via", metavar="ADDRESS", help="the System Gateway address to use")
    call.add_argument("--auth", choices=("ip", "proxy", "header"), default="ip", help="outbound: how the PBX authenticates")
    call.add_argument("--token", metavar="TOKEN", help="outbound: send this VoIP token instead of the real one")
    call.add_argument("--hold", type=seconds(0, 300), default=3.0, metavar="SECONDS",
                      help="how long to keep an answered call up before hanging up (0-300)")
    call.add_argument("--pcap", metavar="FILE", help="write the call's SIP and RTP packets to FILE (needs CAP_NET_RAW)")
    call.add_argument("--dtmf", metavar="DIGITS", default="",
                      help="digits (0-9 * # A-D) the caller sends once answered, as RFC 4733 telephone-events")
    call.add_argument("--delayed-offer", action="store_true",
                      help="the caller's INVITE carries no SDP: the offer comes in the 200 OK, the answer in the ACK")
    call.add_argument("--early-media", type=seconds(0, 30), default=0.0, metavar="SECONDS",
                      help="the called party answers 183 with SDP and plays its tone this long before the 200 OK")

    check = command("check", "run the seed's Verification Checklist end to end")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--wait", type=seconds(0, 600), default=0.0, metavar="SECONDS",
                       help="with your own PBX: wait this long for an outbound call from it before judging")

    scenario = command("scenario", "broken trunks to fix: list them, or load one into the lab")
    scenario.add_argument("action", choices=("list", "load", "report"))
    scenario.add_argument("name", nargs="?", help="load/report: the scenario's name (see 'scenario list')")
    scenario.add_argument("--out", metavar="FILE", help="report: write the markdown here (default: stdout)")

    reset = command("reset", "back to the default account (the call history is kept)")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    reset.add_argument("--blank", action="store_true",
                       help="a new CarrierX customer's account instead: the System Gateway and unassigned numbers")

    apply = command("apply", "make the account equal to FILE, in the shape of `show --json --reveal`, in one "
                             "transaction; print each change")
    apply.add_argument("file", metavar="FILE", help="the JSON file ('-' reads standard input)")
    apply.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")

    pbx = command("pbx-config", "print a configuration that connects a real PBX to this account's trunk")
    pbx.add_argument("kind", choices=("asterisk", "freeswitch", "kamailio", "baresip", "linphone"))
    pbx.add_argument("--auth", choices=("ip", "proxy", "header"), default="proxy",
                     help="how its outbound calls authenticate (default: proxy)")
    pbx.add_argument("--reveal", action="store_true", help="the VoIP token in clear (masked otherwise)")
    pbx.add_argument("--pbx", metavar="IP:PORT", help="behind Kamailio: where the PBX itself listens "
                                                      "(default: the endpoint address's port + 20)")
    pbx.add_argument("--out", metavar="DIR", help="write the files into DIR (owner-only) instead of printing them")

    web = command("web", "the browser classroom: trainees join with a link, each gets a lab; the trainer "
                         "watches the room on a dashboard")
    web.add_argument("--host", default="127.0.0.1",
                     help="the address the web page listens on (default 127.0.0.1; 0.0.0.0: every interface). "
                          "Only the page: the labs' SIP and RTP stay on loopback")
    web.add_argument("--port", type=int, default=8000, help="the port to listen on (default 8000)")
    web.add_argument("--max-trainees", type=int, default=30, metavar="N",
                     help="the room's size: the N+1th trainee is told the room is full (default 30)")
    web.add_argument("--sessions-dir", metavar="DIR",
                     help="the room's folder (databases, classroom.json); an existing room's folder brings that "
                          "room back (default: a new folder under the user data directory)")
    web.add_argument("--resume", action="store_true", help="bring back the newest room of the default folder")
    web.add_argument("--certfile", metavar="PEM", help="serve HTTPS with this certificate (chain)")
    web.add_argument("--keyfile", metavar="PEM", help="the certificate's private key (if not in --certfile)")
    web.add_argument("--public-url", metavar="URL",
                     help="the address trainees open, when a reverse proxy is in front (e.g. https://class.example.org)")
    return parser


# ---------------------------------------------------------------------------- which lab

def choose_lab(args: argparse.Namespace) -> None:
    """Settle the lab: args.lab_number (None: the plain lab, any block), args.plan for a new
    database, args.db_path, and args.reservation, held for the life of the process."""
    args.reservation = None
    if args.lab is None:
        args.lab_number, args.plan = None, DEFAULT_PLAN
        args.db_path = resolve_db_path(args.db)
    else:
        numbers = labs.parse_labs(args.lab)
        if args.web_session:  # the classroom server holds this trainee's lab for the room's life
            if len(numbers) != 1 or not args.db:
                raise labs.LabError("--web-session is started by `web`, with one --lab and a --db")
        elif len(numbers) > 1:
            args.reservation = labs.reserve_first_free(numbers)
        elif args.command in AGENT_COMMANDS:  # only what binds addresses keeps others out
            args.reservation = labs.reserve(numbers[0])
        args.lab_number = args.reservation.number if args.reservation else numbers[0]
        args.plan = labs.lab_plan(args.lab_number)
        args.db_path = Path(args.db).expanduser() if args.db else labs.lab_db_path(args.lab_number)


async def open_store(args: argparse.Namespace) -> Store:
    """The lab's database; a database of another lab's block is refused before anything runs."""
    store = await Store.open(args.db_path, plan=args.plan)
    if args.lab_number is not None:
        problem = labs.plan_mismatch(await store.account(), args.lab_number, store.path)
        if problem:
            await store.close()
            raise labs.LabError(problem)
    return store


# ---------------------------------------------------------------------------- show

async def cmd_show(args: argparse.Namespace) -> int:
    async with await open_store(args) as store:
        account = await store.account()
    if getattr(args, "json", False):
        print(json.dumps(account_to_dict(account, reveal=args.reveal), indent=2))
    else:
        print(f"# {store.path}")
        print(account_to_text(account, reveal=getattr(args, "reveal", False)))
    return 0


# ---------------------------------------------------------------------------- the live lab

async def with_lab(args: argparse.Namespace, body, *, capture: bool = False) -> int:
    """Open the store, start the agents, run body(lab), and stop every agent whatever happens."""
    from sip.lab import Lab, LabError
    from sip.supervisor import AgentStartError

    async with await open_store(args) as store:
        lab = Lab(store, capture=capture)
        try:
            await lab.start()
            return await body(lab)
        except AgentStartError as error:
            print(f"trunklab: {error} (is another trunklab running on these addresses?)", file=sys.stderr)
            return 2
        except LabError as error:
            print(f"trunklab: {error}", file=sys.stderr)
            return 2
        finally:
            await lab.stop()


def print_call(call, account) -> None:
    from sip.ladder import render_text

    print("\n".join(render_text(call, account)))
    for note in call.notes:
        print(f"  note: {note}")
    for decision in call.decisions:
        print(f"  gateway {decision.src}: {decision.cause}")
    for party in ("pstn", "pbx"):
        sent, received = call.digits(party, "tx"), call.digits(party, "rx")
        if sent or received:
            print(f"  dtmf {party}: sent {sent or '-'}, received {received or '-'}")
    outcome = "answered" if call.answered else "failed"
    setup = f", setup {call.setup_ms:.1f} ms" if call.setup_ms is not None else ""
    print(f"final: {call.final_code} {call.final_reason} ({outcome}{setup})")
    said = {"pstn": "your PBX -> PSTN", "pbx": "PSTN -> your PBX"}
    for party in ("pstn", "pbx"):  # a call with your own PBX: judged by RTP energy each way
        if party in call.audio_evidence:
            heard = "audio" if call.heard.get(party) else "NO audio"
            print(f"  {said[party]:<18} {heard} ({call.audio_evidence[party]})")
    if call.answered_at is not None:
        for (agent, _), f in sorted(call.legs.items()):
            judged_by_tone = f.tone is not None and not call.audio_evidence  # your own PBX: by energy, above
            heard = f"  far tone {'HEARD' if call.heard.get(agent) else 'NOT heard'}" if judged_by_tone else ""
            leg_name = f"{agent} <-> {f.remote_rtp.rpartition(':')[0] or '?'}"
            print(f"  {leg_name:<24} {f.codec or '?':<10} rx {f.rx.pkt:>4} pkt "
                  f"loss {f.rx.loss}  jitter {f.rx.jitter_ms} ms  tx {f.tx.pkt:>4} pkt{heard}")


async def cmd_call(args: argparse.Namespace) -> int:
    from sip.lab import LabError

    async def body(lab) -> int:
        if args.pcap and lab.capture is None:  # asked for a pcap: say so before placing the call
            print(f"trunklab: --pcap: {lab.capture_error}", file=sys.stderr)
            return 2
        media = {"dtmf": args.dtmf, "delayed_offer": args.delayed_offer}
        callee = "pbx" if args.direction == "inbound" else "pstn"
        try:
            if args.early_media:
                await lab.set_answering(callee, early_media_s=args.early_media)
            if args.direction == "inbound":
                placed = await lab.place_inbound(args.to, via=args.via, **media)
            else:
                placed = await lab.place_outbound(args.to, auth=args.auth, via=args.via, voip_token=args.token, **media)
        except LabError as error:
            print(f"trunklab: {error}", file=sys.stderr)
            return 2
        # the digits need their time on the wire after the answer (about a quarter second each)
        call = await lab.run_call(placed, hold_s=max(args.hold, 0.6 + 0.3 * len(args.dtmf) if args.dtmf else 0.0))
        print_call(call, lab.account)
        if args.pcap and not write_pcap(lab, call, args.pcap):
            return 2
        both_ways = call.heard.get("pstn") and call.heard.get("pbx")
        digits_arrived = call.digits(callee, "rx") == args.dtmf
        return 0 if call.answered and both_ways and digits_arrived else 1

    return await with_lab(args, body, capture=bool(args.pcap))


def write_pcap(lab, call, path: str) -> bool:
    from sip.lab import LabError

    try:
        count = lab.export_pcap(call.ref, path)
    except (LabError, OSError) as error:
        print(f"trunklab: --pcap: {error}", file=sys.stderr)
        return False
    token = " (its INVITE carries the VoIP token in clear text)" if "header" in (call.auth_method, call.requested_auth) else ""
    print(f"pcap: {count} packets written to {path}{token}")
    return True


async def cmd_check(args: argparse.Namespace) -> int:
    from sip.checklist import firewall_note
    from sip.lab import PSTN_TEST_NUMBER

    async def body(lab) -> int:
        note = firewall_note(lab.account)
        if args.wait and not lab.account.builtin_pbx:
            print(f"Waiting up to {args.wait:g} s for your PBX to call +{PSTN_TEST_NUMBER} (any E.164 number) "
                  f"through {' or '.join(lab.gateway_addresses)} ...", file=sys.stderr, flush=True)
            await lab.wait_until(lambda: any(c.external and c.direction == "outbound" and c.finished
                                             for c in lab.book.calls.values()), args.wait)
        items, calls = await lab.run_checklist()
        if args.json:
            print(json.dumps({"passed": all(i.passed for i in items), "builtin_pbx": lab.account.builtin_pbx,
                              "firewall": note, "items": [
                {"title": i.title, "status": i.status, "detail": i.detail, "cause": i.cause, "fix": i.fix}
                for i in items]}, indent=2))
        else:
            print("Verification Checklist" + ("" if lab.account.builtin_pbx else " (your own PBX)"))
            for item in items:
                print(f"  [{'x' if item.passed else ' '}] {item.title}  ({item.detail})")
                if not item.passed:
                    print(f"      cause: {item.cause}\n      fix:   {item.fix}")
            if note:
                print(note)
        return 0 if all(i.passed for i in items) else 1

    return await with_lab(args, body)


async def cmd_serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    from sip import events

    async def body(lab) -> int:  # one line per SIP message, drop, gateway decision and call event
        def show(event: events.EngineEvent) -> None:
            stamp = time.strftime("%H:%M:%S")
            match event:
                case events.SipCaptured(message=m) if not m.dropped:
                    print(f"{stamp} {m.agent:<12} {m.src:>21} -> {m.dst:<21} {m.first_line}", flush=True)
                case events.FirewallDropped(drop=drop):
                    what = getattr(drop, "first_line", None) or f"{getattr(drop, 'packets', 0)} RTP packets"
                    print(f"{stamp} {'PBX firewall':<12} {drop.src:>21} -x {drop.dst:<21} {what}  ({drop.note})", flush=True)
                case events.GatewayDecided(ref=ref, decision=d):
                    outcome = f"{d.status} {d.reason}" if d.refused else "accepted"
                    print(f"{stamp} {'gateway':<12} call {ref}: {outcome}: {d.cause}", flush=True)
                case events.CallChanged(ref=ref) if ref in lab.book.calls:
                    call = lab.book.calls[ref]
                    code = f" {call.final_code} {call.final_reason}" if call.finished and call.final_code else ""
                    print(f"{stamp} {'lab':<12} call {ref} {call.direction} {call.to_number}: {call.state}{code}", flush=True)
                case events.AgentStateChanged(agent=agent, state=state, detail=detail):
                    print(f"{stamp} {agent:<12} {state}{f' ({detail})' if detail else ''}", flush=True)
                case events.AgentError(agent=agent, message=message):
                    print(f"{stamp} {agent:<12} error: {message}", flush=True)

        lab.subscribe(show)
        print(f"trunklab serving: System Gateway at {', '.join(lab.gateway_addresses)}; Ctrl-C to stop", flush=True)
        if not lab.account.builtin_pbx:
            endpoint = lab.account.pbx_endpoint()
            where = ", ".join(f"{a.ip}:{a.port}" for a in endpoint.addresses) if endpoint else "(no endpoint yet)"
            print(f"built-in PBX off: inbound calls go to your PBX at {where}", flush=True)
        await stop.wait()
        return 0

    return await with_lab(args, body)


# ---------------------------------------------------------------------------- workshop

async def cmd_scenario(args: argparse.Namespace) -> int:
    from store import scenario as scenarios

    if args.action == "list":
        for item in scenarios.library():  # easiest first
            print(f"{item.name:<32} {item.difficulty_word:<7} {item.title}")
        return 0
    if not args.name:
        print(f"trunklab: scenario {args.action} needs a name (see: scenario list)", file=sys.stderr)
        return 2
    chosen = scenarios.find(args.name)
    if args.action == "report":
        return await _scenario_report(args, chosen)
    async with await open_store(args) as store:
        await scenarios.load(store, chosen)
        await store.start_exercise(chosen.name, now=time.time())  # the console's Exercises screen picks it up
    print(f"{chosen.title}\n\n{chosen.story}\n\nSymptom: {chosen.symptom}\n"
          "Start the lab (./lab), open Exercises (w), find the cause on the ladder, fix it, Check my fix (v).")
    return 0


async def _scenario_report(args: argparse.Namespace, chosen) -> int:
    """The exercise report (markdown, with the failing and the fixed ladder) of this lab's trainee."""
    from sip.exercise import report_markdown

    async with await open_store(args) as store:
        progress = (await store.exercise_progress()).get(chosen.name)
        account = await store.account()
    if progress is None:
        print(f"trunklab: the exercise {chosen.name} has not been started in this lab", file=sys.stderr)
        return 2
    text = report_markdown(chosen, progress, account)
    if args.out:
        with open(args.out, "w") as out:
            out.write(text)
        print(f"Report written: {args.out}")
    else:
        print(text)
    return 0


async def cmd_reset(args: argparse.Namespace) -> int:
    path = args.db_path
    what = "a blank account (a new customer's)" if args.blank else "the default account"
    if not args.yes:
        if not sys.stdin.isatty():
            print("trunklab: reset replaces the account; confirm with --yes", file=sys.stderr)
            return 2
        if input(f"Replace the account in {path} with {what}? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 1
    async with await open_store(args) as store:
        await store.reset(blank=args.blank)
    print(f"{path}: {what}" + ("; the console's Lesson (y) starts from here" if args.blank else ""))
    return 0


async def cmd_apply(args: argparse.Namespace) -> int:
    """The account as a file: every change printed; anything invalid refused, nothing changed."""
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
        document = json.loads(text)
    except UnicodeDecodeError:
        print(f"trunklab: {args.file}: not a UTF-8 text file; nothing was changed", file=sys.stderr)
        return 2
    except json.JSONDecodeError as error:
        print(f"trunklab: {args.file}: not JSON ({error.msg} at line {error.lineno}, column {error.colno}); "
              "nothing was changed", file=sys.stderr)
        return 2
    async with await open_store(args) as store:
        try:
            changes = await store.apply(document, dry_run=args.dry_run)
        except StoreError as error:
            print(f"trunklab: {args.file}: {error.message}; nothing was changed", file=sys.stderr)
            return 2
    for change in changes:
        print(f"  {change}")
    if not changes:
        print("No change: the account already is as the file says.")
    elif args.dry_run:
        print(f"Dry run: {len(changes)} change(s) above would be made; nothing was changed.")
    else:
        print(f"{len(changes)} change(s) made in one transaction.")
    return 0


async def cmd_pbx_config(args: argparse.Namespace) -> int:
    """Configuration files for a real PBX, for the account as it is now."""
    from sip.pbx_config import PbxConfigError, render

    async with await open_store(args) as store:
        account = await store.account()
    try:
        files = render(args.kind, account, auth=args.auth, reveal=args.reveal, behind=args.pbx)
    except PbxConfigError as error:
        print(f"trunklab: pbx-config {args.kind}: {error}", file=sys.stderr)
        return 2
    if args.out:
        folder = Path(args.out).expanduser()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for item in files:
            path = folder / item.name
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # owner-only from the first byte: with --reveal a file holds the VoIP token
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(item.text)
            os.chmod(path, 0o600)
            print(f"{path}{'  (holds the VoIP token: keep it private)' if item.holds_secret else ''}")
        return 0
    for index, item in enumerate(files):
        print(f"{'' if index == 0 else chr(10)}==> {item.name} <==")
        print(item.text, end="")
    return 0


# ---------------------------------------------------------------------------- main

COMMANDS = {"show": cmd_show, "serve": cmd_serve, "call": cmd_call, "check": cmd_check,
            "scenario": cmd_scenario, "reset": cmd_reset, "apply": cmd_apply, "pbx-config": cmd_pbx_config}


def capturing_lab(store: Store):
    """The console's lab captures its packets, so a call can be saved as a pcap (Calls, p)."""
    from sip.lab import Lab

    return Lab(store, capture=True)


def run_console(args: argparse.Namespace) -> int:
    """The Textual console on the account at --db (the default when no command is given)."""
    from screens.lab_app import TrunkLabApp

    async def check_store() -> None:  # a file it cannot open gets one line, not a traceback
        await (await open_store(args)).close()

    asyncio.run(check_store())
    if args.web_session:
        from screens.web.command import end_with_parent

        end_with_parent()
    app = TrunkLabApp(args.db_path, engine_factory=capturing_lab)
    if args.lab_number is not None:
        app.sub_title = f"lab {args.lab_number} ({labs.lab_block(args.lab_number)})"
    try:
        app.run()
    finally:
        # Quitting stops the agents (TrunkLabApp.shutdown). If the app died before that, its
        # event loop is gone: end them by pid (PR_SET_PDEATHSIG would end them at our exit too).
        if app.lab is not None and app.lab.supervisor is not None:
            for name in app.lab.agent_states:
                pid = app.lab.supervisor.pid(name)
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
    return app.return_code or 0


def run_web(args: argparse.Namespace) -> int:
    """The classroom server; trainees' labs come from --lab (default: auto, i.e. 1-254)."""
    from screens.web.command import WebOptionError, serve

    if args.db:
        raise labs.LabError("web gives each trainee a database of their own: --db does not apply "
                            "(see --sessions-dir)")
    try:
        return serve(host=args.host, port=args.port, lab_choice=args.lab or "auto", sessions_dir=args.sessions_dir,
                     resume=args.resume, max_trainees=args.max_trainees, certfile=args.certfile,
                     keyfile=args.keyfile, public_url=args.public_url)
    except WebOptionError as error:
        print(f"trunklab: {error}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "web":
            return run_web(args)
        choose_lab(args)
        if args.command is None:
            return run_console(args)
        return asyncio.run(COMMANDS[args.command](args))
    except StoreError as error:
        print(f"trunklab: {error.message}", file=sys.stderr)
        return 2
    except OSError as error:  # a file that cannot be written, a port already taken: one line
        where = f"{error.filename}: " if error.filename else ""
        print(f"trunklab: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as error:  # damage SQLite found after the file opened (a bad page)
        print(f"trunklab: {getattr(args, 'db_path', 'the database')}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
