"""The database schema as a list of migrations.

MIGRATIONS[n] upgrades a database from version n to n+1; `PRAGMA user_version` records the
version reached. A migration is never edited once released: a change is a new migration, so a
file written by any older trunklab opens and upgrades.
"""

from __future__ import annotations

# Version 1: the account (mirrors CarrierX's Core API objects) and the lab's address plan.
V1 = [
    """CREATE TABLE endpoints (
        endpoint_sid     TEXT PRIMARY KEY,
        name             TEXT NOT NULL,
        type             TEXT NOT NULL CHECK (type IN ('system_gateway', 'third_party')),
        voip_token       TEXT,
        capacity         INTEGER NOT NULL DEFAULT 0 CHECK (capacity >= 0),
        attributes       TEXT NOT NULL DEFAULT '{}',
        out_sip_username TEXT,
        out_sip_password TEXT,
        created_seq      INTEGER NOT NULL
    )""",
    # One system gateway per account, enforced by the database as well as by the store.
    "CREATE UNIQUE INDEX one_system_gateway ON endpoints(type) WHERE type = 'system_gateway'",
    """CREATE TABLE endpoint_addresses (
        address_id   INTEGER PRIMARY KEY,
        endpoint_sid TEXT NOT NULL REFERENCES endpoints(endpoint_sid) ON DELETE CASCADE,
        ip           TEXT NOT NULL,
        port         INTEGER NOT NULL DEFAULT 5060 CHECK (port BETWEEN 1 AND 65535),
        transport    TEXT NOT NULL DEFAULT 'udp',
        direction    TEXT NOT NULL DEFAULT 'any' CHECK (direction IN ('any', 'inbound', 'outbound')),
        priority     INTEGER NOT NULL DEFAULT 0,
        UNIQUE (endpoint_sid, ip, port, transport)
    )""",
    """CREATE TABLE trunk_groups (
        trunk_group_sid TEXT PRIMARY KEY,
        name            TEXT NOT NULL,
        routing_type    TEXT NOT NULL DEFAULT 'failover',
        created_seq     INTEGER NOT NULL
    )""",
    """CREATE TABLE trunks (
        trunk_sid       TEXT PRIMARY KEY,
        trunk_group_sid TEXT NOT NULL REFERENCES trunk_groups(trunk_group_sid) ON DELETE CASCADE,
        endpoint_sid    TEXT NOT NULL REFERENCES endpoints(endpoint_sid),
        name            TEXT NOT NULL,
        priority        INTEGER NOT NULL DEFAULT 0,
        weight          INTEGER NOT NULL DEFAULT 0,
        created_seq     INTEGER NOT NULL
    )""",
    """CREATE TABLE dids (
        did_sid         TEXT PRIMARY KEY,
        phonenumber     TEXT NOT NULL UNIQUE,
        name            TEXT NOT NULL DEFAULT '',
        trunk_group_sid TEXT REFERENCES trunk_groups(trunk_group_sid),
        capabilities    TEXT NOT NULL DEFAULT '["voice"]'
    )""",
    """CREATE TABLE firewall_rules (
        rule_id  INTEGER PRIMARY KEY,
        position INTEGER NOT NULL,
        cidr     TEXT NOT NULL,
        protocol TEXT NOT NULL DEFAULT 'any' CHECK (protocol IN ('any', 'sip', 'rtp')),
        note     TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE lab_parties (
        role TEXT PRIMARY KEY CHECK (role IN ('pstn', 'pbx', 'pbx_roaming')),
        ip   TEXT NOT NULL,
        port INTEGER NOT NULL DEFAULT 5060
    )""",
]

# Version 2: call detail records and the captured SIP ladder of each call.
V2 = [
    """CREATE TABLE calls (
        call_id          INTEGER PRIMARY KEY,
        started_at       REAL NOT NULL,
        direction        TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
        from_number      TEXT NOT NULL DEFAULT '',
        to_number        TEXT NOT NULL DEFAULT '',
        gateway_address  TEXT NOT NULL DEFAULT '',
        endpoint_sid     TEXT,
        auth_method      TEXT NOT NULL DEFAULT '',
        final_code       INTEGER,
        final_reason     TEXT NOT NULL DEFAULT '',
        setup_ms         REAL,
        duration_s       REAL,
        rtp              TEXT NOT NULL DEFAULT '{}',
        audio_verdict    TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE sip_messages (
        message_id   INTEGER PRIMARY KEY,
        call_id      INTEGER NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        at           REAL NOT NULL,
        agent        TEXT NOT NULL,
        event        TEXT NOT NULL CHECK (event IN ('tx', 'rx', 'drop')),
        src          TEXT NOT NULL,
        dst          TEXT NOT NULL,
        sip_call_id  TEXT NOT NULL DEFAULT '',
        first_line   TEXT NOT NULL,
        text         TEXT NOT NULL
    )""",
    "CREATE INDEX sip_messages_by_call ON sip_messages(call_id, at)",
]

# Version 3: the PBX's own trunk settings (a copy of credentials that can go stale, its source
# port, its codecs) and each exercise's progress.
V3 = [
    """CREATE TABLE pbx_trunk (
        id                     INTEGER PRIMARY KEY CHECK (id = 1),
        endpoint_sid           TEXT NOT NULL,
        voip_token             TEXT NOT NULL,
        send_voip_token_header INTEGER NOT NULL DEFAULT 1,
        source_port            INTEGER NOT NULL DEFAULT 5060 CHECK (source_port BETWEEN 1 AND 65535),
        codecs                 TEXT NOT NULL DEFAULT '["PCMU", "PCMA"]'
    )""",
    """CREATE TABLE exercise_progress (
        scenario       TEXT PRIMARY KEY,
        started_at     REAL NOT NULL,
        hints_shown    INTEGER NOT NULL DEFAULT 0,
        checks         INTEGER NOT NULL DEFAULT 0,
        solved_at      REAL,
        checklist      TEXT NOT NULL DEFAULT '[]',
        failing_ladder TEXT NOT NULL DEFAULT '',
        fixed_ladder   TEXT NOT NULL DEFAULT ''
    )""",
]

# Version 4: a CDR is written when its call starts and completed when it ends, so a call in
# progress when trunklab died is not lost. `state` says where it stands; the process writing a
# call in progress is its owner (pid, and the identity that tells a reused pid apart), so the
# next open marks it interrupted only once its owner is gone, never while another process
# (a console and a CLI `call` on one database) still runs it.
V4 = [
    "ALTER TABLE calls ADD COLUMN state TEXT NOT NULL DEFAULT 'ended' "
    "CHECK (state IN ('in_progress', 'ended', 'failed', 'interrupted'))",
    "ALTER TABLE calls ADD COLUMN owner_pid INTEGER",
    "ALTER TABLE calls ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
    "UPDATE calls SET state = 'failed' WHERE duration_s IS NULL",  # older CDRs: unanswered = failed
    "CREATE INDEX calls_in_progress ON calls(state) WHERE state = 'in_progress'",
]

# Version 5: the lab's own options. builtin_pbx: whether the lab runs its PBX agent; off, the
# third-party endpoint's addresses name a PBX of your own (any SIP UA on loopback).
V5 = [
    """CREATE TABLE lab_options (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        builtin_pbx INTEGER NOT NULL DEFAULT 1 CHECK (builtin_pbx IN (0, 1))
    )""",
    "INSERT INTO lab_options (id, builtin_pbx) VALUES (1, 1)",
]

# Version 6: exercises that teach. The hints given (chosen for what each check found, so no
# longer a prefix of the scenario's list) and the account as the exercise began (the report
# says what the trainee changed).
V6 = [
    "ALTER TABLE exercise_progress ADD COLUMN hints TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE exercise_progress ADD COLUMN start_account TEXT NOT NULL DEFAULT ''",
]

# Version 7: every run of the Verification Checklist (k, Check my fix, `check`), so the
# classroom's trainer sees each trainee's last checklist and how many checks they ran.
V7 = [
    """CREATE TABLE checklist_runs (
        run_id      INTEGER PRIMARY KEY,
        started_at  REAL NOT NULL,
        finished_at REAL NOT NULL,
        scenario    TEXT,
        passed      INTEGER NOT NULL CHECK (passed IN (0, 1)),
        items       TEXT NOT NULL DEFAULT '[]'
    )""",
]

# Version 8: the guided lesson's progress: when each of its steps (sip/lesson.py) was first seen
# done. A step is judged from the live account each time; this keeps the moment it first held,
# and it is what keeps step 1 ("how calls flow": a call was seen) done across sessions.
V8 = [
    """CREATE TABLE lesson_progress (
        step    TEXT PRIMARY KEY
                CHECK (step IN ('flow', 'firewall', 'authentication', 'numbers', 'checklist')),
        done_at REAL NOT NULL
    )""",
]

MIGRATIONS: list[list[str]] = [V1, V2, V3, V4, V5, V6, V7, V8]
LATEST = len(MIGRATIONS)
