-- A database written by schema version 1 (migration m001), with one small run.
-- Regenerating it is never needed: it stands for databases users already have.
PRAGMA user_version = 1;
BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'repair_tui','m001_create_schema','2026-11-25 22:20:34.503422+00:00');
CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            key TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('generate', 'feedback', 'repair', 'joint')),
            model TEXT NOT NULL,
            messages_json TEXT NOT NULL DEFAULT '[]',
            params_json TEXT NOT NULL DEFAULT '{}',
            response_json TEXT NOT NULL DEFAULT 'null',
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            latency REAL NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
            error TEXT,
            prompt_version TEXT,
            created_utc TEXT NOT NULL,
            UNIQUE (run_id, key),
            FOREIGN KEY (run_id, task_id) REFERENCES tasks(run_id, task_id) ON DELETE CASCADE
        );
INSERT INTO "calls" VALUES(1,1,'HumanEval/0','generate|HumanEval/0|0','generate','sim','[{"role":"user","content":"write f"}]','{}','null',NULL,NULL,0.0,1,'ok',NULL,NULL,'2025-01-01T00:00:01.000+00:00');
INSERT INTO "calls" VALUES(2,1,'HumanEval/0','joint|HumanEval/0|p0|0','joint','sim','[]','{}','null',NULL,NULL,0.0,1,'ok',NULL,NULL,'2025-01-01T00:00:02.000+00:00');
CREATE TABLE nodes (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            parent_id INTEGER REFERENCES nodes(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('program', 'feedback')),
            origin TEXT NOT NULL CHECK (origin IN ('model', 'human', 'tests')),
            model TEXT,
            text TEXT NOT NULL DEFAULT '',
            code TEXT,
            tokens INTEGER NOT NULL DEFAULT 0,
            passed INTEGER CHECK (passed IN (0, 1)),
            fault TEXT,
            error_message TEXT,
            isolation TEXT,
            depth INTEGER NOT NULL,
            sample_index INTEGER NOT NULL DEFAULT 0,
            call_id INTEGER REFERENCES calls(id) ON DELETE SET NULL,
            created_utc TEXT NOT NULL,
            executed_utc TEXT,
            exec_duration REAL,
            exec_extra_json TEXT NOT NULL DEFAULT '{}',
            meta_json TEXT NOT NULL DEFAULT '{}',
            seq INTEGER NOT NULL,
            UNIQUE (run_id, key),
            FOREIGN KEY (run_id, task_id) REFERENCES tasks(run_id, task_id) ON DELETE CASCADE
        );
INSERT INTO "nodes" VALUES(1,1,'HumanEval/0',NULL,'HumanEval/0|p0','program','model','sim','```python
def f(): return 2
```','def f(): return 2',9,0,'wrong_answer on test 0','f() returned 2, expected 1','rlimits',0,0,1,'2025-01-01T00:00:01.000+00:00','2026-11-25T22:20:34.505+00:00',0.0,'{}','{}',2);
INSERT INTO "nodes" VALUES(2,1,'HumanEval/0',1,'HumanEval/0|p0|f0','feedback','model','sim','It returns 2.',NULL,4,NULL,NULL,NULL,NULL,1,0,2,'2025-01-01T00:00:02.000+00:00',NULL,NULL,'{}','{}',3);
INSERT INTO "nodes" VALUES(3,1,'HumanEval/0',2,'HumanEval/0|p0|f0|r0','program','model','sim','def f(): return 1','def f(): return 1',8,NULL,NULL,NULL,NULL,1,0,2,'2025-01-01T00:00:02.000+00:00',NULL,NULL,'{}','{}',4);
CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_utc TEXT NOT NULL,
            updated_utc TEXT NOT NULL,
            dataset TEXT NOT NULL,
            config_json TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'finished', 'interrupted', 'failed', 'imported')),
            message TEXT,
            isolation TEXT NOT NULL DEFAULT '',
            simulated INTEGER NOT NULL DEFAULT 0
        );
INSERT INTO "runs" VALUES(1,'v1-run','2025-01-01T00:00:00.000+00:00','2026-11-25T22:20:34.505+00:00','humaneval','{"base_url": null, "concurrency": 16, "dataset": "humaneval", "depth": 1, "difficulty": null, "feedback_model": null, "feedback_temperature": null, "limit": null, "max_tokens": 1024, "mode": "joint", "model": "sim", "nfr": 1, "np": 2, "seed": 0, "sim_latency": 0.0, "split": null, "task_ids": [], "temperature": 0.8}','finished',NULL,'rlimits',1);
CREATE TABLE tasks (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            source TEXT NOT NULL,
            difficulty TEXT,
            spec TEXT NOT NULL DEFAULT '',
            tests_json TEXT NOT NULL DEFAULT '{}',
            entry_point TEXT,
            starter_code TEXT NOT NULL DEFAULT '',
            references_json TEXT NOT NULL DEFAULT '[]',
            split TEXT,
            meta_json TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, task_id)
        );
INSERT INTO "tasks" VALUES(1,'HumanEval/0',0,'humaneval',NULL,'def f():
    """Return one."""
','{"style":"assert","check":"assert candidate() == 1"}','f','','[]',NULL,'{}');
CREATE TABLE test_results (
            node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
            test_index INTEGER NOT NULL,
            status TEXT NOT NULL,
            input TEXT,
            expected TEXT,
            got TEXT,
            error_type TEXT,
            message TEXT,
            line INTEGER,
            duration REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (node_id, test_index)
        );
INSERT INTO "test_results" VALUES(1,0,'wrong_answer','f()','1','2',NULL,'AssertionError',NULL,0.0);
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
CREATE UNIQUE INDEX tasks_by_position ON tasks(run_id, position);
CREATE INDEX calls_by_task ON calls(run_id, task_id);
CREATE INDEX nodes_stats ON nodes(run_id, task_id, kind, depth, origin, passed, tokens);
CREATE INDEX nodes_by_parent ON nodes(parent_id);
CREATE INDEX nodes_by_call ON nodes(call_id);
CREATE INDEX nodes_by_run_seq ON nodes(run_id, seq);
CREATE INDEX nodes_by_seq ON nodes(seq);
COMMIT;
