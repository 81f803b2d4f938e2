//! How each row type is written: bound parameters of a multi-row `INSERT` (SQLite) and a line
//! of `COPY ... FROM STDIN` text (PostgreSQL).

use crate::rows::*;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::Sqlite;

pub(crate) type SqliteQuery<'q> = Query<'q, Sqlite, SqliteArguments<'q>>;

pub(crate) trait Table {
    const NAME: &'static str;
    const COLS: &'static [&'static str];
    /// Appended to the SQLite `INSERT` (an upsert clause).
    const ON_CONFLICT: &'static str = "";
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q>;
    fn copy(&self, out: &mut CopyLine<'_>);
}

/// One line of PostgreSQL `COPY` text format.
pub(crate) struct CopyLine<'a> {
    buf: &'a mut String,
    first: bool,
}

impl<'a> CopyLine<'a> {
    pub(crate) fn new(buf: &'a mut String) -> Self {
        CopyLine { buf, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push('\t');
        }
        self.first = false;
    }

    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        use std::fmt::Write;
        self.sep();
        let _ = write!(self.buf, "{v}");
        self
    }

    pub(crate) fn opt(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(v),
            None => {
                self.sep();
                self.buf.push_str("\\N");
                self
            }
        }
    }

    pub(crate) fn text(&mut self, v: &str) -> &mut Self {
        self.sep();
        for c in v.chars() {
            match c {
                '\\' => self.buf.push_str("\\\\"),
                '\t' => self.buf.push_str("\\t"),
                '\n' => self.buf.push_str("\\n"),
                '\r' => self.buf.push_str("\\r"),
                c => self.buf.push(c),
            }
        }
        self
    }

    pub(crate) fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.text(v),
            None => {
                self.sep();
                self.buf.push_str("\\N");
                self
            }
        }
    }

    pub(crate) fn boolean(&mut self, v: bool) -> &mut Self {
        self.sep();
        self.buf.push(if v { 't' } else { 'f' });
        self
    }

    pub(crate) fn end(&mut self) {
        self.buf.push('\n');
    }
}

impl Table for EventRow {
    const NAME: &'static str = "events";
    const COLS: &'static [&'static str] = &["shard", "position", "idx", "name", "at", "payload"];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard).bind(self.position as i64).bind(self.idx).bind(self.name).bind(self.at).bind(&self.payload)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.position as i64).int(self.idx as i64).text(self.name).opt(self.at);
        o.text(&self.payload).end();
    }
}

impl Table for CurrencyRow {
    const NAME: &'static str = "currencies";
    const COLS: &'static [&'static str] = &["shard", "currency", "code", "exponent"];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard).bind(self.currency).bind(&self.code).bind(self.exponent)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.currency as i64).text(&self.code).int(self.exponent as i64).end();
    }
}

impl Table for AccountRow {
    const NAME: &'static str = "accounts";
    const COLS: &'static [&'static str] = &["shard", "account_no", "user_id", "currency", "position"];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard).bind(self.account_no).bind(self.user_id).bind(&self.currency).bind(self.position as i64)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.account_no as i64).int(self.user_id).text(&self.currency);
        o.int(self.position as i64).end();
    }
}

impl Table for RoundRow {
    const NAME: &'static str = "game_round_info";
    const COLS: &'static [&'static str] = &[
        "shard",
        "round_no",
        "round_id",
        "game_no",
        "game_status",
        "bet_start_time",
        "bet_stop_time",
        "game_draw_time",
        "draw_result",
        "corrected",
        "ended_at",
    ];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.round_no)
            .bind(&self.round_id)
            .bind(self.game_no)
            .bind(self.game_status)
            .bind(self.bet_start_time)
            .bind(self.bet_stop_time)
            .bind(self.game_draw_time)
            .bind(self.draw_result.as_deref())
            .bind(self.corrected)
            .bind(self.ended_at)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.round_no as i64).text(&self.round_id).int(self.game_no as i64);
        o.int(self.game_status as i64).int(self.bet_start_time).int(self.bet_stop_time).opt(self.game_draw_time);
        o.opt_text(self.draw_result.as_deref()).boolean(self.corrected).opt(self.ended_at).end();
    }
}

impl Table for OrderRow {
    const NAME: &'static str = "orders";
    const COLS: &'static [&'static str] = &[
        "platform",
        "shard",
        "bet_id",
        "order_no",
        "user_id",
        "account_no",
        "round_no",
        "selection",
        "stake",
        "odds",
        "bill_status",
        "outcome",
        "payout",
        "created_at",
        "settled_at",
    ];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(&self.platform)
            .bind(self.shard)
            .bind(self.bet_id)
            .bind(&self.order_no)
            .bind(self.user_id)
            .bind(self.account_no)
            .bind(self.round_no)
            .bind(self.selection)
            .bind(self.stake)
            .bind(self.odds)
            .bind(self.bill_status)
            .bind(self.outcome)
            .bind(self.payout)
            .bind(self.created_at)
            .bind(self.settled_at)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.text(&self.platform).int(self.shard as i64).int(self.bet_id as i64).text(&self.order_no);
        o.int(self.user_id).int(self.account_no as i64).opt(self.round_no.map(i64::from)).int(self.selection as i64);
        o.int(self.stake).int(self.odds).int(self.bill_status as i64).opt_text(self.outcome).opt(self.payout);
        o.int(self.created_at).opt(self.settled_at).end();
    }
}

impl Table for OrderSettle {
    const NAME: &'static str = "tmp_settle";
    const COLS: &'static [&'static str] = &["shard", "bet_id", "bill_status", "outcome", "payout", "settled_at"];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.bet_id)
            .bind(self.bill_status)
            .bind(self.outcome)
            .bind(self.payout)
            .bind(self.settled_at)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.bet_id as i64).int(self.bill_status as i64).text(self.outcome);
        o.int(self.payout).int(self.settled_at).end();
    }
}

impl Table for LedgerRow {
    const NAME: &'static str = "wallet_ledger";
    const COLS: &'static [&'static str] = &[
        "shard",
        "position",
        "idx",
        "line",
        "account_kind",
        "account_ref",
        "currency",
        "counter_kind",
        "counter_ref",
        "amount",
        "balance_after",
        "reason",
        "ref_kind",
        "reference",
        "at",
    ];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.position as i64)
            .bind(self.idx)
            .bind(self.line)
            .bind(self.account_kind)
            .bind(self.account_ref)
            .bind(&self.currency)
            .bind(self.counter_kind)
            .bind(self.counter_ref)
            .bind(self.amount)
            .bind(self.balance_after)
            .bind(self.reason)
            .bind(self.ref_kind)
            .bind(&self.reference)
            .bind(self.at)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.position as i64).int(self.idx as i64).int(self.line as i64);
        o.text(self.account_kind).int(self.account_ref).text(&self.currency).text(self.counter_kind);
        o.int(self.counter_ref).int(self.amount).int(self.balance_after).text(self.reason).text(self.ref_kind);
        o.text(&self.reference).opt(self.at).end();
    }
}

impl Table for CashRow {
    const NAME: &'static str = "cash_transfers";
    const COLS: &'static [&'static str] = &["shard", "position", "idx", "kind", "transfer_id", "account_no", "amount"];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.position as i64)
            .bind(self.idx)
            .bind(self.kind)
            .bind(&self.transfer_id)
            .bind(self.account_no)
            .bind(self.amount)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.position as i64).int(self.idx as i64).text(self.kind);
        o.text(&self.transfer_id).int(self.account_no as i64).int(self.amount).end();
    }
}

impl Table for PacketRow {
    const NAME: &'static str = "red_packets";
    const COLS: &'static [&'static str] = &[
        "shard",
        "packet_no",
        "packet_id",
        "account_no",
        "user_id",
        "currency",
        "total",
        "shares",
        "kind",
        "sent_at",
        "expires_at",
        "grabbed",
        "remaining",
        "status",
        "refund",
        "recipients",
    ];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.packet_no)
            .bind(&self.packet_id)
            .bind(self.account_no)
            .bind(self.user_id)
            .bind(&self.currency)
            .bind(self.total)
            .bind(self.shares)
            .bind(self.kind)
            .bind(self.sent_at)
            .bind(self.expires_at)
            .bind(self.grabbed)
            .bind(self.remaining)
            .bind(self.status)
            .bind(self.refund)
            .bind(self.recipients.as_deref())
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.packet_no as i64).text(&self.packet_id).int(self.account_no as i64);
        o.int(self.user_id).text(&self.currency).int(self.total).int(self.shares as i64).text(self.kind);
        o.int(self.sent_at).int(self.expires_at).int(self.grabbed).int(self.remaining).text(self.status);
        o.opt(self.refund).opt_text(self.recipients.as_deref()).end();
    }
}

impl Table for GrabRow {
    const NAME: &'static str = "red_packet_grabs";
    const COLS: &'static [&'static str] =
        &["shard", "packet_no", "share", "user_id", "account_no", "amount", "position"];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.packet_no)
            .bind(self.share)
            .bind(self.user_id)
            .bind(self.account_no)
            .bind(self.amount)
            .bind(self.position as i64)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.packet_no as i64).int(self.share as i64).int(self.user_id);
        o.opt(self.account_no.map(i64::from)).int(self.amount).int(self.position as i64).end();
    }
}

impl Table for ShardTransferRow {
    const NAME: &'static str = "shard_transfers";
    const COLS: &'static [&'static str] = &[
        "from_shard",
        "to_shard",
        "seq",
        "side",
        "user_id",
        "currency",
        "amount",
        "packet_id",
        "share",
        "account_no",
        "position",
    ];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.from_shard)
            .bind(self.to_shard)
            .bind(self.seq as i64)
            .bind(self.side)
            .bind(self.user_id)
            .bind(&self.currency)
            .bind(self.amount)
            .bind(&self.packet_id)
            .bind(self.share)
            .bind(self.account_no)
            .bind(self.position as i64)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.from_shard as i64).int(self.to_shard as i64).int(self.seq as i64).text(self.side);
        o.int(self.user_id).text(&self.currency).int(self.amount).text(&self.packet_id).int(self.share as i64);
        o.opt(self.account_no.map(i64::from)).int(self.position as i64).end();
    }
}

impl Table for BalanceRow {
    const NAME: &'static str = "balances";
    const COLS: &'static [&'static str] = &["shard", "account_kind", "account_ref", "currency", "balance"];
    const ON_CONFLICT: &'static str =
        " ON CONFLICT (shard, account_kind, account_ref, currency) DO UPDATE SET balance = excluded.balance";
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard).bind(self.account_kind).bind(self.account_ref).bind(&self.currency).bind(self.balance)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).text(self.account_kind).int(self.account_ref).text(&self.currency);
        o.int(self.balance).end();
    }
}

impl Table for CrashChannelRow {
    const NAME: &'static str = "crash_channels";
    const COLS: &'static [&'static str] = &[
        "shard",
        "channel_no",
        "channel_id",
        "terminating_hash",
        "salt",
        "length",
        "currencies",
        "config",
        "paused",
        "position",
    ];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.channel_no)
            .bind(&self.channel_id)
            .bind(&self.terminating_hash)
            .bind(&self.salt)
            .bind(self.length)
            .bind(&self.currencies)
            .bind(&self.config)
            .bind(self.paused)
            .bind(self.position as i64)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.channel_no as i64).text(&self.channel_id).text(&self.terminating_hash);
        o.text(&self.salt).int(self.length).text(&self.currencies).text(&self.config).boolean(self.paused);
        o.int(self.position as i64).end();
    }
}

impl Table for CrashTermRow {
    const NAME: &'static str = "crash_terms";
    const COLS: &'static [&'static str] = &[
        "shard",
        "term_no",
        "channel_no",
        "number",
        "status",
        "opened_at",
        "starting_at",
        "took_off_at",
        "game",
        "hash",
        "crash_point",
        "crashed_at",
        "ended_at",
    ];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.term_no)
            .bind(self.channel_no)
            .bind(self.number)
            .bind(self.status)
            .bind(self.opened_at)
            .bind(self.starting_at)
            .bind(self.took_off_at)
            .bind(self.game)
            .bind(self.hash.as_deref())
            .bind(self.crash_point)
            .bind(self.crashed_at)
            .bind(self.ended_at)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.term_no as i64).int(self.channel_no as i64).int(self.number);
        o.text(self.status).int(self.opened_at).int(self.starting_at).opt(self.took_off_at).opt(self.game);
        o.opt_text(self.hash.as_deref()).opt(self.crash_point).opt(self.crashed_at).opt(self.ended_at).end();
    }
}

impl Table for CrashTotalsRow {
    const NAME: &'static str = "crash_term_totals";
    const COLS: &'static [&'static str] = &["shard", "term_no", "currency", "bets", "staked", "paid", "rake"];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.term_no)
            .bind(&self.currency)
            .bind(self.bets)
            .bind(self.staked)
            .bind(self.paid)
            .bind(self.rake)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.term_no as i64).text(&self.currency).int(self.bets).int(self.staked);
        o.int(self.paid).int(self.rake).end();
    }
}

impl Table for CrashBetRow {
    const NAME: &'static str = "crash_bets";
    const COLS: &'static [&'static str] = &[
        "shard",
        "bet_no",
        "term_no",
        "order_no",
        "user_id",
        "account_no",
        "currency",
        "stake",
        "requested",
        "target",
        "status",
        "multiplier",
        "payout",
        "cashout_kind",
        "placed_at",
        "settled_at",
        "position",
    ];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.bet_no)
            .bind(self.term_no)
            .bind(&self.order_no)
            .bind(self.user_id)
            .bind(self.account_no)
            .bind(&self.currency)
            .bind(self.stake)
            .bind(self.requested)
            .bind(self.target)
            .bind(self.status)
            .bind(self.multiplier)
            .bind(self.payout)
            .bind(self.cashout_kind)
            .bind(self.placed_at)
            .bind(self.settled_at)
            .bind(self.position as i64)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.bet_no as i64).int(self.term_no as i64).text(&self.order_no);
        o.int(self.user_id).int(self.account_no as i64).text(&self.currency).int(self.stake).opt(self.requested);
        o.int(self.target).text(self.status).opt(self.multiplier).opt(self.payout).opt_text(self.cashout_kind);
        o.int(self.placed_at).opt(self.settled_at).int(self.position as i64).end();
    }
}

impl Table for CrashBetSettle {
    const NAME: &'static str = "tmp_crash_settle";
    const COLS: &'static [&'static str] =
        &["shard", "bet_no", "status", "multiplier", "payout", "cashout_kind", "settled_at"];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.bet_no)
            .bind(self.status)
            .bind(self.multiplier)
            .bind(self.payout)
            .bind(self.cashout_kind)
            .bind(self.settled_at)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.bet_no as i64).text(self.status).opt(self.multiplier).opt(self.payout);
        o.opt_text(self.cashout_kind).int(self.settled_at).end();
    }
}

impl Table for SeedRow {
    const NAME: &'static str = "instant_seeds";
    const COLS: &'static [&'static str] =
        &["shard", "user_id", "seed_no", "server_seed_hash", "client_seed", "position", "server_seed"];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.user_id)
            .bind(self.seed_no)
            .bind(&self.server_seed_hash)
            .bind(&self.client_seed)
            .bind(self.position as i64)
            .bind(self.server_seed.as_deref())
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.user_id).int(self.seed_no as i64).text(&self.server_seed_hash);
        o.text(&self.client_seed).int(self.position as i64).opt_text(self.server_seed.as_deref()).end();
    }
}

impl Table for InstantBetRow {
    const NAME: &'static str = "instant_bets";
    const COLS: &'static [&'static str] = &[
        "shard",
        "bet_no",
        "order_no",
        "user_id",
        "account_no",
        "currency",
        "game",
        "params",
        "stake",
        "seed_no",
        "server_seed_hash",
        "client_seed",
        "nonce",
        "outcome",
        "multiplier",
        "max_payout",
        "payout",
        "status",
        "settle_reason",
        "mine_tile",
        "revealed",
        "placed_at",
        "settled_at",
        "position",
    ];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        q.bind(self.shard)
            .bind(self.bet_no)
            .bind(&self.order_no)
            .bind(self.user_id)
            .bind(self.account_no)
            .bind(&self.currency)
            .bind(self.game)
            .bind(&self.params)
            .bind(self.stake)
            .bind(self.seed_no)
            .bind(&self.server_seed_hash)
            .bind(&self.client_seed)
            .bind(self.nonce)
            .bind(&self.outcome)
            .bind(self.multiplier)
            .bind(self.max_payout)
            .bind(self.payout)
            .bind(self.status)
            .bind(self.settle_reason)
            .bind(self.mine_tile)
            .bind(self.revealed)
            .bind(self.placed_at)
            .bind(self.settled_at)
            .bind(self.position as i64)
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        o.int(self.shard as i64).int(self.bet_no as i64).text(&self.order_no).int(self.user_id);
        o.int(self.account_no as i64).text(&self.currency).text(self.game).text(&self.params).int(self.stake);
        o.int(self.seed_no as i64).text(&self.server_seed_hash).text(&self.client_seed).int(self.nonce);
        o.text(&self.outcome).int(self.multiplier).int(self.max_payout).opt(self.payout).text(self.status);
        o.opt_text(self.settle_reason).opt(self.mine_tile).int(self.revealed).int(self.placed_at);
        o.opt(self.settled_at).int(self.position as i64).end();
    }
}

impl Table for InstantChange {
    const NAME: &'static str = "tmp_instant_change";
    const COLS: &'static [&'static str] = &[
        "shard",
        "bet_no",
        "revealed",
        "stake_add",
        "max_payout",
        "payout",
        "status",
        "settle_reason",
        "mine_tile",
        "settled_at",
    ];
    fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        let s = self.settled;
        q.bind(self.shard)
            .bind(self.bet_no)
            .bind(self.revealed)
            .bind(self.stake_add)
            .bind(self.max_payout)
            .bind(s.and_then(|s| s.payout))
            .bind(s.map(|s| s.status))
            .bind(s.map(|s| s.reason))
            .bind(s.and_then(|s| s.mine_tile))
            .bind(s.map(|s| s.at))
    }
    fn copy(&self, o: &mut CopyLine<'_>) {
        let s = self.settled;
        o.int(self.shard as i64).int(self.bet_no as i64).int(self.revealed).int(self.stake_add).opt(self.max_payout);
        o.opt(s.and_then(|s| s.payout)).opt_text(s.map(|s| s.status)).opt_text(s.map(|s| s.reason));
        o.opt(s.and_then(|s| s.mine_tile)).opt(s.map(|s| s.at)).end();
    }
}
