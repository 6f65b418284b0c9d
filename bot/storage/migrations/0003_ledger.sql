-- Reserved for the donations ledger (being written).
SELECT 1;
