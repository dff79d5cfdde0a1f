-- Operator presence: an operator's open workstation sockets touch seen_at
-- every half minute. An operator who is "online" but whose sockets have all
-- been gone for a while is set offline by a worker, so visitors are not told
-- that somebody will answer when nobody can.
ALTER TABLE employees ADD COLUMN seen_at timestamptz;
CREATE INDEX employees_online_idx ON employees (seen_at) WHERE status = 'online';
