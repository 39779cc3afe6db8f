-- Version 2: each journaled turn's session in a column of its own, so that the turns of one
-- session (read when a session ends, to build its segments) are found through an index instead
-- of by reading every turn of the namespace.
ALTER TABLE turns ADD COLUMN session_id TEXT;
UPDATE turns SET session_id = payload::json->>'session_id';
CREATE INDEX turns_session ON turns (ns, session_id, seq);
