-- The crash game (seed 001) and the instant games (seed 003). Same conventions as 0001:
-- amounts in minor units, times in ms since the epoch, dense numbers per shard. Multipliers:
-- crash in hundredths (250 = 2.50x), instant in ten-thousandths (Multiplier::SCALE).

-- A channel is created on every shard (one row per shard, same channel_id). `currencies`
-- lists the channel's limits' currency codes in their order (the order of term totals).
CREATE TABLE crash_channels (
    shard INTEGER NOT NULL,
    channel_no INTEGER NOT NULL,
    channel_id TEXT NOT NULL,
    terminating_hash TEXT NOT NULL,
    salt TEXT NOT NULL,
    length INTEGER NOT NULL,
    currencies TEXT NOT NULL,
    config TEXT NOT NULL,
    paused INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (shard, channel_no)
);

-- A term is broadcast: one row per shard (same channel_no and number). status: pre_start,
-- starting, flying, crashed, closed, cancelled. game, hash and crash_point stay NULL until the
-- term crashes (a flight's secret is never stored before).
CREATE TABLE crash_terms (
    shard INTEGER NOT NULL,
    term_no INTEGER NOT NULL,
    channel_no INTEGER NOT NULL,
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    starting_at INTEGER NOT NULL,
    took_off_at INTEGER,
    game INTEGER,
    hash TEXT,
    crash_point INTEGER,
    crashed_at INTEGER,
    ended_at INTEGER,
    PRIMARY KEY (shard, term_no)
);
CREATE INDEX crash_terms_number ON crash_terms (channel_no, number);

-- A closed term's totals on this shard, per currency of the channel: bets counted (cashed out
-- or lost), staked, paid, rake = staked - paid. Refunded and cancelled bets count nowhere.
CREATE TABLE crash_term_totals (
    shard INTEGER NOT NULL,
    term_no INTEGER NOT NULL,
    currency TEXT NOT NULL,
    bets INTEGER NOT NULL,
    staked INTEGER NOT NULL,
    paid INTEGER NOT NULL,
    rake INTEGER NOT NULL,
    PRIMARY KEY (shard, term_no, currency)
);

-- status: open, cashed_out, lost, cancelled (by its player), refunded (emergency stop).
-- requested: the auto target the player asked for; target: where the bet leaves the flight
-- (requested, or the per-bet profit limit's). cashout_kind: manual, auto, cap.
CREATE TABLE crash_bets (
    shard INTEGER NOT NULL,
    bet_no INTEGER NOT NULL,
    term_no INTEGER NOT NULL,
    order_no TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    account_no INTEGER NOT NULL,
    currency TEXT NOT NULL,
    stake INTEGER NOT NULL,
    requested INTEGER,
    target INTEGER NOT NULL,
    status TEXT NOT NULL,
    multiplier INTEGER,
    payout INTEGER,
    cashout_kind TEXT,
    placed_at INTEGER NOT NULL,
    settled_at INTEGER,
    position INTEGER NOT NULL,
    PRIMARY KEY (shard, bet_no)
);
CREATE INDEX crash_bets_term ON crash_bets (shard, term_no);
CREATE INDEX crash_bets_user ON crash_bets (user_id);

-- Every seed pair committed to a player: the server seed's sha256, and the seed itself once
-- a rotation has revealed it (NULL while in use: an unrevealed seed never reaches a row). The
-- rotation does not carry the seed it reveals: the projector keeps the seed in use in memory
-- and, after a restart, reads it back from the journal record that committed it (`position`).
CREATE TABLE instant_seeds (
    shard INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    seed_no INTEGER NOT NULL,
    server_seed_hash TEXT NOT NULL,
    client_seed TEXT NOT NULL,
    position INTEGER NOT NULL,
    server_seed TEXT,
    PRIMARY KEY (shard, user_id, seed_no)
);

-- game: dice, keno, plinko, mines; params and outcome: the domain's JSON. payout: what the
-- bet paid once settled (NULL while open); max_payout: what the bet event recorded (plinko:
-- its payout; mines: the most it can win). status: open, settled. settle_reason: at_bet,
-- confirmed, cashed_out, mine, swept; mine_tile with `mine`. revealed: mines' gems, bit per tile.
CREATE TABLE instant_bets (
    shard INTEGER NOT NULL,
    bet_no INTEGER NOT NULL,
    order_no TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    account_no INTEGER NOT NULL,
    currency TEXT NOT NULL,
    game TEXT NOT NULL,
    params TEXT NOT NULL,
    stake INTEGER NOT NULL,
    seed_no INTEGER NOT NULL,
    server_seed_hash TEXT NOT NULL,
    client_seed TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    multiplier INTEGER NOT NULL,
    max_payout INTEGER NOT NULL,
    payout INTEGER,
    status TEXT NOT NULL,
    settle_reason TEXT,
    mine_tile INTEGER,
    revealed INTEGER NOT NULL,
    placed_at INTEGER NOT NULL,
    settled_at INTEGER,
    position INTEGER NOT NULL,
    PRIMARY KEY (shard, bet_no)
);
CREATE INDEX instant_bets_user ON instant_bets (user_id, seed_no, nonce);
CREATE INDEX instant_bets_order ON instant_bets (user_id, order_no);
