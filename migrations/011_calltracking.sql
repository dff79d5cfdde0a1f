-- Reserved for the calltracking branch (011_calltracking.sql); replaced when it merges.
SELECT 1;
