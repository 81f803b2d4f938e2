-- Seed 002 (issue 20, item 1): packets for chosen recipients, and the columns seed 002's
-- `account` and `account_log` tables have that the first views left out.

-- The packet's recipients as a JSON array of user ids, sorted; NULL: anyone with the link.
ALTER TABLE red_packets ADD COLUMN recipients TEXT;

-- account_name, account_type and status of seed 002. Every row is a player's wallet in one
-- currency (the house, cashier, pools and transit are ledger accounts in `balances`, not
-- accounts); status: 'in_debt' below zero (only a resettlement can do that, and such an
-- account takes no bets or withdrawals), else 'active'.
DROP VIEW account;
CREATE VIEW account AS
SELECT a.shard, a.account_no, a.user_id, a.currency,
       COALESCE(p.balance, 0) AS balance, COALESCE(h.balance, 0) AS held,
       'player ' || a.user_id || ' ' || a.currency AS account_name,
       'player' AS account_type,
       CASE WHEN COALESCE(p.balance, 0) < 0 THEN 'in_debt' ELSE 'active' END AS status
FROM accounts a
LEFT JOIN balances p ON p.shard = a.shard AND p.account_kind = 'player' AND p.account_ref = a.account_no
LEFT JOIN balances h ON h.shard = a.shard AND h.account_kind = 'held' AND h.account_ref = a.account_no;

-- target_user_id, status and description of seed 002 (its `desc`, a reserved word in SQL).
-- The counterpart user: the other player's account, the player's own for a hold, the
-- packet's sender for a pool (a share grabbed, a packet sent or refunded); none for the
-- cashier, the house, or a share that arrived from another shard (only its sending shard
-- knows the packet). status: 'done', since a line is projected only from a journaled command,
-- which is final (a later correction is a line of its own).
DROP VIEW account_log;
CREATE VIEW account_log AS
SELECT l.shard, l.account_ref AS account_no, l.reference AS trade_no,
       l.position || ':' || l.idx || ':' || l.line AS log_no,
       l.counter_kind AS target_kind, l.counter_ref AS target_account_no,
       l.amount, l.balance_after AS balance, l.reason AS change_type,
       CASE WHEN l.amount < 0 THEN -1 ELSE 1 END AS change_flag, l.at AS create_at,
       me.user_id AS user_id,
       CASE l.counter_kind
           WHEN 'player' THEN other.user_id
           WHEN 'held' THEN me.user_id
           WHEN 'pool' THEN pk.user_id
       END AS target_user_id,
       'done' AS status,
       CASE l.reason
           WHEN 'deposit' THEN 'deposit from the cashier, transfer ' || l.reference
           WHEN 'withdrawal' THEN 'withdrawal to the cashier, transfer ' || l.reference
           WHEN 'bet_hold' THEN 'stake held for ' || l.ref_kind || ' ' || l.reference
           WHEN 'bet_stake' THEN 'stake of ' || l.ref_kind || ' ' || l.reference
           WHEN 'bet_payout' THEN 'payout of ' || l.ref_kind || ' ' || l.reference
           WHEN 'bet_refund' THEN 'stake refunded, ' || l.ref_kind || ' ' || l.reference
           WHEN 'resettlement' THEN l.ref_kind || ' ' || l.reference || ' settled again'
           WHEN 'packet_send' THEN 'red packet ' || pk.packet_id || ' sent'
           WHEN 'packet_grab' THEN 'share of red packet ' || pk.packet_id || ' grabbed'
           WHEN 'packet_refund' THEN 'rest of red packet ' || pk.packet_id || ' refunded at expiry'
           WHEN 'transfer_in' THEN 'red packet share from shard transfer ' || l.reference
           ELSE l.reason || ' ' || l.ref_kind || ' ' || l.reference
       END AS description
FROM wallet_ledger l
JOIN accounts me ON me.shard = l.shard AND me.account_no = l.account_ref
LEFT JOIN accounts other ON l.counter_kind = 'player' AND other.shard = l.shard AND other.account_no = l.counter_ref
LEFT JOIN red_packets pk ON l.counter_kind = 'pool' AND pk.shard = l.shard AND pk.packet_no = l.counter_ref
WHERE l.account_kind = 'player';
