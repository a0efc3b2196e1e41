-- Every tag write asks for MAX(seq) + 1; without an index that scanned the whole tags table
-- (53% of the server's CPU while seeding 10,000 packs in the benchmark).
CREATE INDEX tags_seq ON tags(seq);
