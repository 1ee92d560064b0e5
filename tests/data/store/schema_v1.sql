-- A database as newsmonitor wrote it at schema version 1 (before sources.last_http_status),
-- made with the code of commit aa8d7f8: sources failing on 410, 503 and a timeout, one healthy
-- source, a pending alert and a health notice, one destination in backoff.
BEGIN TRANSACTION;
CREATE TABLE destinations (
	dest VARCHAR(64) NOT NULL,
	target VARCHAR(200) NOT NULL,
	failures INTEGER NOT NULL,
	blocked_until FLOAT,
	last_success_at FLOAT,
	last_error TEXT,
	sent_log TEXT,
	last_digest_at FLOAT,
	PRIMARY KEY (dest)
);
INSERT INTO "destinations" VALUES('d1','chat',1,160.0,NULL,'HTTP 500','[120.0, 130.0]',NULL);
CREATE TABLE meta (
	"key" VARCHAR(100) NOT NULL,
	value TEXT,
	PRIMARY KEY ("key")
);
INSERT INTO "meta" VALUES('schema_version','1');
CREATE TABLE outbox (
	id INTEGER NOT NULL,
	"key" VARCHAR(64) NOT NULL,
	kind VARCHAR(10) NOT NULL,
	rule VARCHAR(200) NOT NULL,
	target VARCHAR(200) NOT NULL,
	dest VARCHAR(64) NOT NULL,
	story_id INTEGER,
	cluster VARCHAR(64),
	status VARCHAR(10) NOT NULL,
	urgent INTEGER NOT NULL,
	digest VARCHAR(100),
	payload TEXT NOT NULL,
	created_at FLOAT NOT NULL,
	due_at FLOAT NOT NULL,
	next_attempt_at FLOAT NOT NULL,
	attempts INTEGER NOT NULL,
	first_failed_at FLOAT,
	last_error TEXT,
	sent_at FLOAT,
	PRIMARY KEY (id),
	CONSTRAINT uq_outbox_key UNIQUE ("key")
);
INSERT INTO "outbox" VALUES(1,'nm-alert','alert','chips','chat','d1',1,'c1','pending',0,NULL,'{"title": "Chip tariffs rise", "url": "https://news.example/chips", "source": "wire", "outlet": "Wire Service", "published": 1709296200.0, "rules": [{"rule": "chips", "snippets": [{"text": "Semiconductor tariffs rise.", "spans": [[0, 13]]}]}]}',150.0,150.0,150.0,0,NULL,NULL,NULL);
INSERT INTO "outbox" VALUES(2,'nm-health','health','(health)','chat','d1',NULL,NULL,'pending',1,NULL,'{"note": "Source ''busy-feed'' has failed 3 polls in a row", "items": []}',150.0,150.0,150.0,0,NULL,NULL,NULL);
CREATE TABLE sources (
	name VARCHAR(200) NOT NULL,
	kind VARCHAR(10) NOT NULL,
	url_hash VARCHAR(64) NOT NULL,
	primed_at FLOAT,
	last_poll_at FLOAT,
	last_ok_at FLOAT,
	failing_since FLOAT,
	failures INTEGER NOT NULL,
	last_error TEXT,
	next_poll_at FLOAT,
	etag TEXT,
	last_modified TEXT,
	content_hash VARCHAR(64),
	new_story_times TEXT,
	listed_ids TEXT,
	polls INTEGER NOT NULL,
	stories_total INTEGER NOT NULL,
	PRIMARY KEY (name)
);
INSERT INTO "sources" VALUES('gone-feed','feed','hgone-feed',NULL,200.0,NULL,100.0,2,'http_status: HTTP 410 from https://gone.example/feed.xml',NULL,NULL,NULL,NULL,'[]','[]',5,0);
INSERT INTO "sources" VALUES('busy-feed','feed','hbusy-feed',NULL,200.0,NULL,100.0,1,'http_status: HTTP 503 from https://busy.example/feed.xml',NULL,NULL,NULL,NULL,'[]','[]',5,0);
INSERT INTO "sources" VALUES('slow-feed','feed','hslow-feed',NULL,200.0,NULL,100.0,4,'timeout: https://slow.example/feed.xml: read timed out',NULL,NULL,NULL,NULL,'[]','[]',5,0);
INSERT INTO "sources" VALUES('fine-feed','feed','hfine-feed',NULL,200.0,NULL,NULL,0,NULL,NULL,NULL,NULL,NULL,'[]','[]',5,0);
CREATE TABLE stories (
	id INTEGER NOT NULL,
	source VARCHAR(200) NOT NULL,
	title TEXT NOT NULL,
	url TEXT NOT NULL,
	published FLOAT,
	first_seen FLOAT NOT NULL,
	last_listed FLOAT NOT NULL,
	cluster VARCHAR(64),
	signature BLOB,
	title_key TEXT,
	PRIMARY KEY (id)
);
INSERT INTO "stories" VALUES(1,'wire','Chip tariffs rise','https://news.example/chips',1709296200.0,150.0,150.0,'c1',NULL,NULL);
CREATE TABLE story_keys (
	"key" VARCHAR(300) NOT NULL,
	story_id INTEGER NOT NULL,
	PRIMARY KEY ("key")
);
INSERT INTO "story_keys" VALUES('url://news.example/chips',1);
CREATE INDEX ix_stories_first_seen ON stories (first_seen);
CREATE INDEX ix_stories_cluster ON stories (cluster);
CREATE INDEX ix_stories_last_listed ON stories (last_listed);
CREATE INDEX ix_story_keys_story ON story_keys (story_id);
CREATE INDEX ix_outbox_status_dest ON outbox (status, dest, next_attempt_at);
COMMIT;
