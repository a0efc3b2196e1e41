-- The stored pack headers of GET /v1/_packs (0009) were made before every field of a header had
-- the type the API promises: a pack.json whose cloudTypes is a string, accepted with a warning,
-- was listed with a string where a list belongs. They are dropped here and rebuilt at start-up
-- from the pack versions, by the same code as every change (PackService.runPendingWork).
DELETE FROM pack_headers;
