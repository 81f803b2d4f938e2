-- croupier SQL projection (SQLite). Amounts are integers in the currency's minor unit; times
-- are milliseconds since the Unix epoch. Dense numbers (account_no, round_no, bet_id,
-- packet_no) are per shard, so every key starts with the shard.

CREATE TABLE projector_position (
    shard INTEGER PRIMARY KEY,
    position INTEGER NOT NULL,
    events INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE events (
    shard INTEGER NOT NULL,
    position INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    at INTEGER,
    payload TEXT NOT NULL,
    PRIMARY KEY (shard, position, idx)
) WITHOUT ROWID;

CREATE TABLE currencies (
    shard INTEGER NOT NULL,
    currency INTEGER NOT NULL,
    code TEXT NOT NULL,
    exponent INTEGER NOT NULL,
    PRIMARY KEY (shard, currency)
);

CREATE TABLE accounts (
    shard INTEGER NOT NULL,
    account_no INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    currency TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (shard, account_no)
);
CREATE INDEX accounts_user ON accounts (user_id);

-- Seed 000: game_status 1 betting, 3 stopped, 4 dealing, 5 drawn, 6 ended, 7 cancelled.
-- A round is broadcast to every shard, so it has one row per shard (same round_id).
CREATE TABLE game_round_info (
    shard INTEGER NOT NULL,
    round_no INTEGER NOT NULL,
    round_id TEXT NOT NULL,
    game_no INTEGER NOT NULL,
    game_status INTEGER NOT NULL,
    bet_start_time INTEGER NOT NULL,
    bet_stop_time INTEGER NOT NULL,
    game_draw_time INTEGER,
    draw_result TEXT,
    corrected INTEGER NOT NULL,
    ended_at INTEGER,
    PRIMARY KEY (shard, round_no)
);
CREATE INDEX game_round_info_id ON game_round_info (round_id);

-- Seed 000: bill_status 1 open, 2 settled.
CREATE TABLE orders (
    platform TEXT NOT NULL,
    shard INTEGER NOT NULL,
    bet_id INTEGER NOT NULL,
    order_no TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    account_no INTEGER NOT NULL,
    round_no INTEGER,
    selection INTEGER NOT NULL,
    stake INTEGER NOT NULL,
    odds INTEGER NOT NULL,
    bill_status INTEGER NOT NULL,
    outcome TEXT,
    payout INTEGER,
    created_at INTEGER NOT NULL,
    settled_at INTEGER,
    PRIMARY KEY (shard, bet_id)
);

-- One row per side of each double-entry line: amount is negative on the debited side.
CREATE TABLE wallet_ledger (
    shard INTEGER NOT NULL,
    position INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    line INTEGER NOT NULL,
    account_kind TEXT NOT NULL,
    account_ref INTEGER NOT NULL,
    currency TEXT NOT NULL,
    counter_kind TEXT NOT NULL,
    counter_ref INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    reason TEXT NOT NULL,
    ref_kind TEXT NOT NULL,
    reference TEXT NOT NULL,
    at INTEGER,
    PRIMARY KEY (shard, position, idx, line)
) WITHOUT ROWID;

CREATE TABLE cash_transfers (
    shard INTEGER NOT NULL,
    position INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    kind TEXT NOT NULL,
    transfer_id TEXT NOT NULL,
    account_no INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (shard, position, idx)
);

CREATE TABLE red_packets (
    shard INTEGER NOT NULL,
    packet_no INTEGER NOT NULL,
    packet_id TEXT NOT NULL,
    account_no INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    currency TEXT NOT NULL,
    total INTEGER NOT NULL,
    shares INTEGER NOT NULL,
    kind TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    grabbed INTEGER NOT NULL,
    remaining INTEGER NOT NULL,
    status TEXT NOT NULL,
    refund INTEGER,
    PRIMARY KEY (shard, packet_no)
);

CREATE TABLE red_packet_grabs (
    shard INTEGER NOT NULL,
    packet_no INTEGER NOT NULL,
    share INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    account_no INTEGER,
    amount INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (shard, packet_no, share)
);

CREATE TABLE shard_transfers (
    from_shard INTEGER NOT NULL,
    to_shard INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    side TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL,
    packet_id TEXT NOT NULL,
    share INTEGER NOT NULL,
    account_no INTEGER,
    position INTEGER NOT NULL,
    PRIMARY KEY (from_shard, to_shard, seq, side)
);

-- Every ledger account's balance (player, held, external, house, pool, transit).
CREATE TABLE balances (
    shard INTEGER NOT NULL,
    account_kind TEXT NOT NULL,
    account_ref INTEGER NOT NULL,
    currency TEXT NOT NULL,
    balance INTEGER NOT NULL,
    PRIMARY KEY (shard, account_kind, account_ref, currency)
);

-- Seed 002's `account` and `account_log`, as views.
CREATE VIEW account AS
SELECT a.shard, a.account_no, a.user_id, a.currency,
       COALESCE(p.balance, 0) AS balance, COALESCE(h.balance, 0) AS held
FROM accounts a
LEFT JOIN balances p ON p.shard = a.shard AND p.account_kind = 'player' AND p.account_ref = a.account_no
LEFT JOIN balances h ON h.shard = a.shard AND h.account_kind = 'held' AND h.account_ref = a.account_no;

CREATE VIEW account_log AS
SELECT l.shard, l.account_ref AS account_no, l.reference AS trade_no,
       l.position || ':' || l.idx || ':' || l.line AS log_no,
       l.counter_kind AS target_kind, l.counter_ref AS target_account_no,
       l.amount, l.balance_after AS balance, l.reason AS change_type,
       CASE WHEN l.amount < 0 THEN -1 ELSE 1 END AS change_flag, l.at AS create_at
FROM wallet_ledger l
WHERE l.account_kind = 'player';
