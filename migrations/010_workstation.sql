-- Reserved for the workstation branch (010_workstation.sql); replaced when it merges.
SELECT 1;
