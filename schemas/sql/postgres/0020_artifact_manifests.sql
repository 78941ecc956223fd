-- The package manifest read from an artifact's bytes when it was uploaded (npm's package.json),
-- for the engines that serve one.
alter table artifacts add column manifest text;
