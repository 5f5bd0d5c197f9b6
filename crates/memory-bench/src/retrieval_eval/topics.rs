//! The hand-written material of the retrieval corpus: domains, toolchains ("kits") and
//! topics.
//!
//! A **topic** is one concrete problem an agent meets (for example "Postgres connection pool
//! exhausted under load in a Go API"), written twice, in two vocabularies:
//! - the **stored side** (`tasks`, `probes`, `errors`, `fixes`, `verdicts`) is how an agent
//!   records an episode about it: the task as filed, the commands it ran, the real-looking
//!   error messages it met, the change that fixed it and the verdict;
//! - the **query side** (`queries`) is how a different agent, later, asks about the same
//!   problem: synonyms, paraphrase, partial symptoms, no copied phrases. These phrasings are
//!   held out — they appear in no stored template — so retrieval must bridge the vocabulary
//!   gap the way it would have to in real use.
//!
//! Topics in the same domain and **family** are related problems (an answer to one is some
//! help for the other). Several topics are deliberate **near misses**: they share surface
//! words with another topic's stored text or queries ("pool", "out of memory", "timeout",
//! "twice", "lock", "traffic spike") while being different problems, so lexical overlap alone
//! misleads.
//!
//! Templates may contain `{subject}` (a service, table, screen… of the domain), `{file}` (a
//! path of the topic's kit), `{n}` and `{line}` (numbers); the generator fills them in.

use memory_core::TaskType;

/// A step template: tool, action, and the tool's output (for a probe or a fix) or error
/// message (for an error).
pub(super) type StepT = (&'static str, &'static str, &'static str);

/// A problem area: its context tags and the things its tasks are about.
pub(super) struct Domain {
    /// The `TaskContext::domain` of its episodes.
    pub name: &'static str,
    /// Context tags, some of which each episode carries.
    pub tags: &'static [&'static str],
    /// Values of `{subject}`.
    pub subjects: &'static [&'static str],
}

/// A toolchain: where the files are and how a fix is checked.
pub(super) struct Kit {
    /// The name topics refer to it by.
    pub name: &'static str,
    /// Values of `{file}` (may contain `{subject}`).
    pub files: &'static [&'static str],
    /// Steps that confirm a fix.
    pub verify: &'static [StepT],
}

/// One concrete problem, in its stored and its query vocabulary (see the module docs).
pub(super) struct Topic {
    /// A stable, unique key.
    pub key: &'static str,
    /// The [`Domain`] name.
    pub domain: &'static str,
    /// The problem family inside the domain; same domain and family means "related".
    pub family: &'static str,
    /// `TaskContext::language`.
    pub language: &'static str,
    /// `TaskContext::framework`.
    pub framework: &'static str,
    /// The [`Kit`] name.
    pub kit: &'static str,
    /// The task type.
    pub kind: TaskType,
    /// Task descriptions as recorded (stored side).
    pub tasks: &'static [&'static str],
    /// Diagnostic steps that succeed.
    pub probes: &'static [StepT],
    /// Steps that fail, with the error message.
    pub errors: &'static [StepT],
    /// The changes that fix the problem.
    pub fixes: &'static [StepT],
    /// Verdicts of a successful episode.
    pub verdicts: &'static [&'static str],
    /// Held-out query phrasings (query side).
    pub queries: &'static [&'static str],
}

pub(super) const DOMAINS: &[Domain] = &[
    Domain {
        name: "web-api",
        tags: &["backend", "http", "production"],
        subjects: &[
            "orders",
            "users",
            "checkout",
            "inventory",
            "billing",
            "profiles",
        ],
    },
    Domain {
        name: "databases",
        tags: &["database", "sql", "production"],
        subjects: &["orders", "events", "accounts", "shipments", "audit_log"],
    },
    Domain {
        name: "infra-terraform",
        tags: &["aws", "iac", "infra"],
        subjects: &["vpc", "ingress", "rds", "workers", "bastion"],
    },
    Domain {
        name: "kubernetes",
        tags: &["k8s", "cluster", "production"],
        subjects: &["api-gateway", "worker", "ingest", "scheduler", "frontend"],
    },
    Domain {
        name: "ci",
        tags: &["ci", "pipeline", "build"],
        subjects: &["backend", "web", "integration", "release", "e2e"],
    },
    Domain {
        name: "frontend",
        tags: &["ui", "browser", "spa"],
        subjects: &["dashboard", "search", "cart", "settings", "feed"],
    },
    Domain {
        name: "mobile",
        tags: &["mobile", "app", "release"],
        subjects: &["gallery", "feed", "profile", "checkout", "chat"],
    },
    Domain {
        name: "ml-training",
        tags: &["ml", "gpu", "training"],
        subjects: &["resnet50", "bert-base", "ranker", "vit-small", "recsys"],
    },
    Domain {
        name: "security",
        tags: &["security", "appsec", "incident"],
        subjects: &["search", "comments", "admin", "uploads", "profile"],
    },
    Domain {
        name: "observability",
        tags: &["monitoring", "sre", "oncall"],
        subjects: &["checkout", "payments", "gateway", "ingest", "auth"],
    },
    Domain {
        name: "payments",
        tags: &["payments", "stripe", "money"],
        subjects: &[
            "checkout",
            "subscriptions",
            "invoices",
            "refunds",
            "payouts",
        ],
    },
    Domain {
        name: "search",
        tags: &["search", "elasticsearch", "relevance"],
        subjects: &["products", "articles", "listings", "customers", "logs"],
    },
    Domain {
        name: "auth",
        tags: &["auth", "identity", "security"],
        subjects: &["login", "sso", "mobile-app", "admin-portal", "api"],
    },
    Domain {
        name: "messaging",
        tags: &["queue", "async", "events"],
        subjects: &[
            "orders",
            "notifications",
            "billing-events",
            "clickstream",
            "emails",
        ],
    },
    Domain {
        name: "caching",
        tags: &["cache", "redis", "performance"],
        subjects: &["product", "session", "pricing", "profile", "catalog"],
    },
    Domain {
        name: "cli-tools",
        tags: &["cli", "developer-tools", "ux"],
        subjects: &["deploy", "sync", "export", "init", "migrate"],
    },
    Domain {
        name: "embedded",
        tags: &["firmware", "mcu", "hardware"],
        subjects: &["sensor", "motor", "radio", "display", "logger"],
    },
    Domain {
        name: "game-dev",
        tags: &["game", "realtime", "performance"],
        subjects: &["player", "enemy", "projectile", "level", "inventory"],
    },
    Domain {
        name: "docs",
        tags: &["docs", "writing", "site"],
        subjects: &["install", "quickstart", "api", "config", "faq"],
    },
    Domain {
        name: "serverless",
        tags: &["aws", "lambda", "serverless"],
        subjects: &["thumbnails", "webhooks", "reports", "signup", "export"],
    },
    Domain {
        name: "data-pipeline",
        tags: &["etl", "batch", "data"],
        subjects: &[
            "orders",
            "customers",
            "clickstream",
            "inventory",
            "invoices",
        ],
    },
    Domain {
        name: "networking",
        tags: &["network", "proxy", "dns"],
        subjects: &["api", "uploads", "static", "admin", "grpc"],
    },
    Domain {
        name: "desktop",
        tags: &["desktop", "electron", "release"],
        subjects: &["editor", "settings", "sync", "updater", "tray"],
    },
];

#[rustfmt::skip]
pub(super) const KITS: &[Kit] = &[
    Kit {
        name: "go",
        files: &[
            "internal/{subject}/handler.go",
            "internal/db/pool.go",
            "cmd/server/main.go",
            "internal/{subject}/client.go",
        ],
        verify: &[
            ("go test", "go test ./... -race", "ok  \texample.com/{subject}\t{n}.{line}s"),
            ("k6", "run the load test script with 300 virtual users", "http_req_failed: 0.00% p(95)={n}ms"),
        ],
    },
    Kit {
        name: "python",
        files: &[
            "app/{subject}/views.py",
            "app/db.py",
            "app/settings.py",
            "tests/test_{subject}.py",
        ],
        verify: &[
            ("pytest", "pytest -q tests/", "{n} passed in {line}.21s"),
            ("locust", "run locust with 200 users for five minutes", "0 failures, median {n} ms"),
        ],
    },
    Kit {
        name: "node",
        files: &[
            "src/{subject}/index.ts",
            "src/server.ts",
            "src/components/{subject}.tsx",
            "package.json",
        ],
        verify: &[
            ("npm test", "npm test -- --runInBand", "Tests: {n} passed, {n} total"),
            ("npm run build", "production build", "compiled successfully in {n}.{line}s"),
        ],
    },
    Kit {
        name: "rust",
        files: &[
            "src/{subject}.rs",
            "src/main.rs",
            "src/error.rs",
            "Cargo.toml",
        ],
        verify: &[
            ("cargo test", "cargo test --workspace", "test result: ok. {n} passed; 0 failed"),
            ("cargo clippy", "cargo clippy -- -D warnings", "no warnings"),
        ],
    },
    Kit {
        name: "jvm",
        files: &[
            "src/main/java/com/example/{subject}/Service.java",
            "src/main/resources/application.yml",
            "pom.xml",
        ],
        verify: &[
            ("mvn", "mvn -q verify", "BUILD SUCCESS, Tests run: {n}, Failures: 0"),
            ("gatling", "replay the production traffic profile", "mean response time {n} ms, KO 0%"),
        ],
    },
    Kit {
        name: "android",
        files: &[
            "app/src/main/java/com/example/{subject}/ViewModel.kt",
            "app/src/main/java/com/example/{subject}/Fragment.kt",
            "app/build.gradle.kts",
        ],
        verify: &[
            ("gradle", "./gradlew connectedDebugAndroidTest", "BUILD SUCCESSFUL in {n}s"),
            ("adb", "adb shell am start and scroll the {subject} screen for two minutes", "no crash, no ANR dialog"),
        ],
    },
    Kit {
        name: "ios",
        files: &[
            "Sources/{subject}/ViewController.swift",
            "Sources/App/AppDelegate.swift",
            "Podfile",
        ],
        verify: &[("xcodebuild", "xcodebuild test -scheme App -destination 'platform=iOS Simulator'", "** TEST SUCCEEDED ** ({n} tests)")],
    },
    Kit {
        name: "terraform",
        files: &[
            "modules/{subject}/main.tf",
            "envs/prod/main.tf",
            "backend.tf",
            "versions.tf",
        ],
        verify: &[
            ("terraform", "terraform plan -out=tfplan", "Plan: 0 to add, {n} to change, 0 to destroy."),
            ("terraform", "terraform validate", "Success! The configuration is valid."),
        ],
    },
    Kit {
        name: "k8s",
        files: &[
            "deploy/{subject}/deployment.yaml",
            "charts/{subject}/values.yaml",
            "deploy/{subject}/hpa.yaml",
        ],
        verify: &[
            ("kubectl", "kubectl rollout status deploy/{subject}", "deployment \"{subject}\" successfully rolled out"),
            ("kubectl", "kubectl get pods -l app={subject}", "{n} pods Running, 0 restarts"),
        ],
    },
    Kit {
        name: "gha",
        files: &[
            ".github/workflows/ci.yml",
            ".github/workflows/{subject}.yml",
            "Dockerfile",
        ],
        verify: &[("gh", "gh run watch the re-triggered workflow", "✓ {subject} completed in {n}m{line}s")],
    },
    Kit {
        name: "sql",
        files: &[
            "migrations/{n}_{subject}.sql",
            "db/schema.sql",
            "config/postgresql.conf",
        ],
        verify: &[("psql", "rerun the statement with EXPLAIN (ANALYZE, BUFFERS)", "Execution Time: {n}.{line} ms")],
    },
    Kit {
        name: "firmware",
        files: &[
            "Core/Src/{subject}.c",
            "Core/Inc/{subject}.h",
            "FreeRTOSConfig.h",
            "memory.x",
        ],
        verify: &[("make", "make flash and run the hardware-in-the-loop test", "HIL test passed ({n} cycles)")],
    },
    Kit {
        name: "unity",
        files: &[
            "Assets/Scripts/{subject}Controller.cs",
            "Assets/Scripts/Systems/{subject}System.cs",
            "ProjectSettings/Physics.asset",
        ],
        verify: &[("unity", "run the play-mode tests and a profiler capture", "{n} tests passed; frame time steady at 16.{line} ms")],
    },
    Kit {
        name: "docs",
        files: &["docs/{subject}.md", "mkdocs.yml", "docs/conf.py"],
        verify: &[("mkdocs", "mkdocs build --strict", "INFO - Documentation built in {n}.{line} seconds")],
    },
    Kit {
        name: "nginx",
        files: &[
            "/etc/nginx/conf.d/{subject}.conf",
            "/etc/nginx/nginx.conf",
            "/etc/resolv.conf",
        ],
        verify: &[("nginx", "nginx -t and reload", "nginx: configuration file /etc/nginx/nginx.conf test is successful")],
    },
    Kit {
        name: "spark",
        files: &[
            "jobs/{subject}_daily.py",
            "dags/{subject}_dag.py",
            "conf/spark-defaults.conf",
        ],
        verify: &[("spark-submit", "rerun the job on yesterday's partition", "job finished in {n} min, {line} tasks, 0 failed")],
    },
    Kit {
        name: "lambda",
        files: &[
            "functions/{subject}/handler.py",
            "serverless.yml",
            "template.yaml",
        ],
        verify: &[("sam", "sam deploy and invoke the function with a sample event", "StatusCode 200, duration {n} ms")],
    },
    Kit {
        name: "electron",
        files: &[
            "src/main/{subject}.ts",
            "src/renderer/{subject}.tsx",
            "electron-builder.yml",
        ],
        verify: &[("npm run dist", "package the app and run the smoke test", "smoke test passed on macOS and Windows")],
    },
];

/// Every topic of the corpus. (Not rustfmt-ed: one step template per line reads better.)
#[rustfmt::skip]
pub(super) const TOPICS: &[Topic] = &[
    // ───────────────────────────── web-api ─────────────────────────────
    Topic {
        key: "go-pg-pool-exhausted",
        domain: "web-api",
        family: "db-connections",
        language: "go",
        framework: "net/http",
        kit: "go",
        kind: TaskType::Debugging,
        tasks: &[
            "Postgres connection pool exhausted under load in the {subject} Go API",
            "Fix pgxpool acquire timeouts in the Go {subject} service during load tests",
            "Go {subject} handlers block forever waiting for a free Postgres connection",
        ],
        probes: &[
            ("read_file", "read {file} to see how pgxpool is configured", "pgxpool.Config: MaxConns not set, defaults to 4"),
            ("psql", "SELECT state, count(*) FROM pg_stat_activity GROUP BY state", "idle in transaction | {n}"),
        ],
        errors: &[
            ("k6", "load test GET /{subject} with 300 virtual users", "pgxpool: failed to acquire connection: context deadline exceeded"),
            ("go test", "go test ./internal/{subject}/... -run TestConcurrentOrders", "FATAL: sorry, too many clients already (SQLSTATE 53300)"),
        ],
        fixes: &[
            ("edit_file", "add defer rows.Close() after every Query in {file}", "patched {file}: rows closed on all paths"),
            ("edit_file", "set MaxConns to 50 and MaxConnIdleTime in {file}", "pool config now read from DB_MAX_CONNS"),
        ],
        verdicts: &[
            "Rows are closed and the pool is sized to 50; 300 virtual users served without acquire timeouts",
            "Leaked connections fixed; pg_stat_activity stays under 40 connections under load",
        ],
        queries: &[
            "DB pool runs dry when traffic spikes on our golang service",
            "golang backend stalls waiting on database handles with heavy concurrency",
            "requests pile up since sql handles never return to the pool",
            "postgres refuses new sessions once many people hit the gin server",
        ],
    },
    Topic {
        key: "py-sqlalchemy-pool-timeout",
        domain: "web-api",
        family: "db-connections",
        language: "python",
        framework: "fastapi",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "SQLAlchemy QueuePool limit reached in the FastAPI {subject} service",
            "FastAPI {subject} endpoints time out acquiring a SQLAlchemy session",
            "Sessions leak from get_db in the {subject} FastAPI app under concurrent requests",
        ],
        probes: &[
            ("read_file", "read {file}: how get_db yields the session", "get_db yields SessionLocal() but never closes it when the handler raises"),
            ("py-spy", "py-spy dump on a stuck worker", "{n} threads blocked in QueuePool._do_get"),
        ],
        errors: &[
            ("locust", "run locust against /{subject}", "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00"),
            ("pytest", "pytest tests/test_{subject}.py -k concurrent", "E   sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached"),
        ],
        fixes: &[
            ("edit_file", "close the session in a finally block in get_db ({file})", "patched {file}: session.close() in finally"),
            ("edit_file", "create_engine(pool_size=20, max_overflow=10, pool_pre_ping=True) in {file}", "engine options updated"),
        ],
        verdicts: &[
            "Sessions are always closed and the pool enlarged; no QueuePool timeouts at 200 users",
            "get_db fixed; FastAPI service handles the load test without session timeouts",
        ],
        queries: &[
            "python web app cannot get a db session when lots of requests arrive together",
            "session leak starving the database for our asgi app",
            "uvicorn workers wait half a minute for an orm handle then give up",
        ],
    },
    Topic {
        key: "node-express-heap-leak",
        domain: "web-api",
        family: "runtime-performance",
        language: "typescript",
        framework: "express",
        kit: "node",
        kind: TaskType::Debugging,
        tasks: &[
            "Memory leak in the Express {subject} service: heap grows until the container restarts",
            "Node.js {subject} API runs out of heap after a few hours in production",
            "Track down the EventEmitter listener leak in the Express {subject} handlers",
        ],
        probes: &[
            ("node", "node --inspect and take two heap snapshots ten minutes apart", "retained size grew by {n} MB, mostly closures in {file}"),
            ("grep", "grep for emitter.on( inside request handlers", "{n} matches, one per request in {file}"),
        ],
        errors: &[
            ("node", "run the soak test for two hours", "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"),
            ("node", "start the server with --trace-warnings", "MaxListenersExceededWarning: Possible EventEmitter memory leak detected. 11 listeners added to [EventEmitter]"),
        ],
        fixes: &[
            ("edit_file", "register the listener once at startup instead of per request in {file}", "patched {file}: listener moved to module scope"),
            ("edit_file", "call emitter.off in the response 'finish' hook in {file}", "listener removed after each response"),
        ],
        verdicts: &[
            "Listener leak fixed; heap flat at {n} MB over a 4 hour soak test",
            "Heap usage stable after moving the listener registration out of the request path",
        ],
        queries: &[
            "node server RAM keeps climbing until it crashes",
            "javascript backend slowly eats memory and dies every few hours",
            "too many event subscriptions accumulate per http call",
        ],
    },
    Topic {
        key: "spring-n-plus-one",
        domain: "web-api",
        family: "runtime-performance",
        language: "java",
        framework: "spring-boot",
        kit: "jvm",
        kind: TaskType::Debugging,
        tasks: &[
            "Slow GET /{subject} in Spring Boot: Hibernate issues one query per row (N+1)",
            "Fix the N+1 select problem on the {subject} listing with JPA fetch joins",
            "Spring Data repository for {subject} triggers hundreds of lazy-loading queries",
        ],
        probes: &[
            ("read_file", "enable spring.jpa.show-sql and read the log", "{n} SELECT statements for one page of {subject}"),
            ("read_file", "read {file}: the @OneToMany mapping", "items mapped with FetchType.LAZY and accessed in a loop"),
        ],
        errors: &[
            ("gatling", "replay the listing scenario", "p95 response time 4{n}0 ms, 12% KO (timeouts)"),
            ("mvn", "run the repository test with Hibernate statistics", "AssertionError: expected 1 query but Hibernate executed {n}"),
        ],
        fixes: &[
            ("edit_file", "add @EntityGraph(attributePaths = \"items\") to the finder in {file}", "patched {file}: one join query per page"),
            ("edit_file", "use JOIN FETCH in the JPQL query in {file}", "query rewritten with JOIN FETCH"),
        ],
        verdicts: &[
            "One query per page instead of {n}; p95 of the listing down to 80 ms",
            "N+1 removed with an entity graph; Hibernate statistics test passes",
        ],
        queries: &[
            "listing endpoint fires hundreds of sql statements to render one page in the java app",
            "orm lazy relations make a collection call extremely chatty with the database",
            "jpa makes a separate roundtrip per child record",
        ],
    },
    Topic {
        key: "axum-json-422",
        domain: "web-api",
        family: "request-validation",
        language: "rust",
        framework: "axum",
        kit: "rust",
        kind: TaskType::Debugging,
        tasks: &[
            "POST /{subject} returns 500 instead of 422 when the JSON body is malformed (axum)",
            "Map JSON extractor rejections to proper 4xx responses in the axum {subject} routes",
            "axum {subject} handler panics on a missing field instead of rejecting the body",
        ],
        probes: &[
            ("http_request", "curl -X POST /{subject} with a body missing `quantity`", "HTTP/1.1 500 Internal Server Error"),
            ("read_file", "read {file}: the handler unwraps serde_json::from_str", "serde_json::from_str(&body).unwrap() on line {line}"),
        ],
        errors: &[
            ("cargo test", "cargo test api_{subject}", "thread 'api_{subject}::rejects_bad_body' panicked: assertion `left == right` failed (left: 500, right: 422)"),
            ("http_request", "POST a body with a string quantity", "Failed to deserialize the JSON body into the target type: quantity: invalid type: string \"2\", expected u32"),
        ],
        fixes: &[
            ("edit_file", "take Json<T> as extractor and implement IntoResponse for JsonRejection in {file}", "patched {file}: rejections become 422 with a message"),
            ("edit_file", "replace unwrap with ? and an ApiError::BadRequest in {file}", "ApiError maps to 400/422"),
        ],
        verdicts: &[
            "Malformed bodies now get 422 with the field named; no more 500s",
            "JSON rejections mapped to 4xx responses and covered by tests",
        ],
        queries: &[
            "bad payload yields an internal server error rather than a client error in our rust http server",
            "invalid request content crashes the handler instead of a validation response",
            "tower service answers 5xx for a typo in the posted document",
        ],
    },
    Topic {
        key: "go-http-client-no-timeout",
        domain: "web-api",
        family: "outbound-calls",
        language: "go",
        framework: "net/http",
        kit: "go",
        kind: TaskType::Debugging,
        tasks: &[
            "Go {subject} service hangs when the partner API is slow: http.Client has no timeout",
            "Outbound connection pool to the shipping API saturates under load in the Go {subject} service",
            "Add timeouts and a circuit breaker to the Go {subject} HTTP client",
        ],
        probes: &[
            ("read_file", "read {file}: how the HTTP client is built", "http.DefaultClient used; Timeout 0, MaxIdleConnsPerHost 2"),
            ("curl", "curl /debug/pprof/goroutine?debug=1", "{n} goroutines blocked in net/http.(*persistConn).roundTrip"),
        ],
        errors: &[
            ("k6", "load test with the partner API stub delayed by 30 s", "request timeout: {n} of 300 requests exceeded 60s"),
            ("go test", "go test ./internal/{subject}/... -run TestSlowUpstream", "panic: test timed out after 10m0s"),
        ],
        fixes: &[
            ("edit_file", "build a dedicated http.Client with Timeout 5s and tuned Transport in {file}", "patched {file}: client with timeouts"),
            ("edit_file", "wrap partner calls in a gobreaker circuit breaker in {file}", "breaker opens after 5 consecutive failures"),
        ],
        verdicts: &[
            "Client timeouts and a breaker added; a slow partner no longer stalls the service",
            "Outbound calls bounded at 5 s; goroutine count stable under load",
        ],
        queries: &[
            "third-party dependency slowness freezes our golang backend",
            "requests to an external vendor never give up and threads accumulate",
            "missing deadline on calls to another company's service",
        ],
    },
    // ───────────────────────────── databases ─────────────────────────────
    Topic {
        key: "pg-deadlock",
        domain: "databases",
        family: "locking",
        language: "sql",
        framework: "postgres",
        kit: "sql",
        kind: TaskType::Debugging,
        tasks: &[
            "Deadlock detected between the {subject} batch job and API updates in Postgres",
            "Postgres aborts transactions on {subject} with deadlock errors every night",
            "Resolve lock ordering deadlocks when updating {subject} rows concurrently",
        ],
        probes: &[
            ("psql", "SELECT * FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT granted", "{n} waiting ShareLock requests on {subject}"),
            ("read_file", "read the Postgres log around the failure", "log_lock_waits shows two sessions updating {subject} in opposite order"),
        ],
        errors: &[
            ("psql", "replay the nightly batch next to API traffic", "ERROR: deadlock detected DETAIL: Process 4242 waits for ShareLock on transaction 1337; blocked by process 4243."),
            ("pytest", "run the concurrency test for {subject} updates", "psycopg.errors.DeadlockDetected: deadlock detected"),
        ],
        fixes: &[
            ("edit_file", "update rows in primary key order (ORDER BY id FOR UPDATE) in {file}", "patched {file}: consistent lock order"),
            ("edit_file", "retry the transaction on SQLSTATE 40P01 with backoff", "retry wrapper added"),
        ],
        verdicts: &[
            "Both writers now lock {subject} rows in id order; no deadlocks in a week of batches",
            "Consistent lock ordering plus retry on 40P01; nightly job completes",
        ],
        queries: &[
            "two writers block each other forever and the database kills one",
            "nightly job and web requests cancel each other with a cyclic wait",
            "concurrent row updates abort with a circular wait error",
        ],
    },
    Topic {
        key: "pg-missing-index",
        domain: "databases",
        family: "query-performance",
        language: "sql",
        framework: "postgres",
        kit: "sql",
        kind: TaskType::Analysis,
        tasks: &[
            "Postgres query on {subject} does a sequential scan and takes seconds",
            "Add the missing index for {subject} lookups by customer_id",
            "Slow query log shows {subject} filtering without an index",
        ],
        probes: &[
            ("psql", "EXPLAIN ANALYZE SELECT * FROM {subject} WHERE customer_id = $1", "Seq Scan on {subject} (cost=0.00..183412.00 rows={n}) Execution Time: 8423.117 ms"),
            ("psql", "SELECT * FROM pg_stat_user_indexes WHERE relname = '{subject}'", "only the primary key index exists"),
        ],
        errors: &[
            ("read_file", "read the slow query log", "LOG: duration: 8423.117 ms statement: SELECT ... FROM {subject} WHERE customer_id = $1"),
            ("pytest", "run the API test with a 2 s budget", "AssertionError: response took 8.4 s (budget 2 s)"),
        ],
        fixes: &[
            ("psql", "CREATE INDEX CONCURRENTLY idx_{subject}_customer_id ON {subject} (customer_id)", "CREATE INDEX"),
            ("edit_file", "add the index to a migration in {file}", "migration added"),
        ],
        verdicts: &[
            "Index scan now; the lookup takes 3 ms instead of 8 s",
            "Concurrent index created without downtime; slow query gone from the log",
        ],
        queries: &[
            "lookup by client crawls because the planner reads the entire table",
            "a filter without supporting btree makes reads take seconds",
            "relational db reads every row for a simple where clause",
        ],
    },
    Topic {
        key: "pg-migration-lock",
        domain: "databases",
        family: "locking",
        language: "sql",
        framework: "postgres",
        kit: "sql",
        kind: TaskType::Debugging,
        tasks: &[
            "ALTER TABLE migration on {subject} blocks all writes in production",
            "Schema migration takes an ACCESS EXCLUSIVE lock on {subject} and stalls the app",
            "Make the {subject} column migration safe: no long table locks",
        ],
        probes: &[
            ("psql", "SELECT mode, granted FROM pg_locks WHERE relation = '{subject}'::regclass", "AccessExclusiveLock granted to the migration, {n} writers waiting"),
            ("read_file", "read the migration in {file}", "ALTER TABLE {subject} ADD COLUMN region text NOT NULL DEFAULT 'eu' rewrites the table"),
        ],
        errors: &[
            ("psql", "run the migration on a production-sized copy", "ERROR: canceling statement due to lock timeout"),
            ("read_file", "read the API error log during the deploy", "QueryCanceled: canceling statement due to statement timeout (INSERT INTO {subject})"),
        ],
        fixes: &[
            ("edit_file", "split the migration: add nullable column, backfill in batches of 10k, then add the constraint NOT VALID", "patched {file}: three-step migration"),
            ("edit_file", "SET lock_timeout = '3s' at the start of the migration", "lock_timeout set"),
        ],
        verdicts: &[
            "Migration ran in three steps with short locks; writes never blocked",
            "Column added online; backfill done in batches with lock_timeout",
        ],
        queries: &[
            "schema change froze inserts on a big table",
            "adding a field to a huge relation made the site read-only for minutes",
            "ddl during deploy halts every write",
        ],
    },
    Topic {
        key: "mysql-replica-lag",
        domain: "databases",
        family: "replication",
        language: "sql",
        framework: "mysql",
        kit: "sql",
        kind: TaskType::Analysis,
        tasks: &[
            "MySQL read replica lags minutes behind the primary",
            "Reduce replication lag on the {subject} replica during bulk writes",
            "Replica reads of {subject} return stale data: Seconds_Behind_Master keeps rising",
        ],
        probes: &[
            ("mysql", "SHOW REPLICA STATUS\\G", "Seconds_Behind_Source: {n}0, Replica_SQL_Running_State: Waiting for dependent transaction to commit"),
            ("mysql", "SELECT @@replica_parallel_workers", "0"),
        ],
        errors: &[
            ("pytest", "run the read-after-write test against the replica", "AssertionError: order {n} not visible after 30 s"),
            ("read_file", "read the replica error log", "Seconds_Behind_Master: 412 while applying a 2 GB transaction on {subject}"),
        ],
        fixes: &[
            ("mysql", "SET GLOBAL replica_parallel_workers = 8; replica_parallel_type = LOGICAL_CLOCK", "parallel apply enabled"),
            ("edit_file", "split the bulk update on {subject} into batches of 5000 rows in {file}", "patched {file}: batched writes"),
        ],
        verdicts: &[
            "Parallel replication and batched writes keep lag under 2 s",
            "Replica catches up within seconds even during the bulk job",
        ],
        queries: &[
            "secondary database serves stale rows long after writes",
            "follower copy trails the leader by several minutes",
            "read-only copy falls behind during big batch updates",
        ],
    },
    Topic {
        key: "pg-startup-conn-refused",
        domain: "databases",
        family: "availability",
        language: "yaml",
        framework: "docker-compose",
        kit: "sql",
        kind: TaskType::Debugging,
        tasks: &[
            "App fails on startup with Postgres connection refused: the database container is not ready yet",
            "docker-compose starts the {subject} service before Postgres accepts connections",
            "Add a healthcheck so the {subject} service waits for the Postgres connection",
        ],
        probes: &[
            ("docker", "docker compose logs db", "database system is ready to accept connections ({n} ms after the app started)"),
            ("read_file", "read docker-compose.yml", "depends_on: [db] without condition: service_healthy"),
        ],
        errors: &[
            ("docker", "docker compose up", "error: connection to server at \"db\" (172.18.0.2), port 5432 failed: Connection refused"),
            ("docker", "docker compose up {subject}", "{subject} exited with code 1: could not connect to postgres after 0 retries"),
        ],
        fixes: &[
            ("edit_file", "add a pg_isready healthcheck and depends_on condition: service_healthy", "compose file updated"),
            ("edit_file", "retry the initial connection with backoff in {file}", "startup retries for 30 s"),
        ],
        verdicts: &[
            "Services start in the right order; no connection refused on a cold start",
            "Healthcheck plus retry: the stack comes up cleanly every time",
        ],
        queries: &[
            "app boots before the db container is up and crashes",
            "race between compose services at launch",
            "local stack fails the first time because the database is still initialising",
        ],
    },
    // ───────────────────────────── infra-terraform ─────────────────────────────
    Topic {
        key: "tf-state-lock",
        domain: "infra-terraform",
        family: "state",
        language: "hcl",
        framework: "terraform",
        kit: "terraform",
        kind: TaskType::Debugging,
        tasks: &[
            "Terraform apply stuck: state lock held in DynamoDB after a crashed CI run",
            "Release the stale Terraform state lock for the {subject} workspace",
            "terraform plan fails with Error acquiring the state lock on {subject}",
        ],
        probes: &[
            ("aws", "aws dynamodb get-item --table-name terraform-locks --key LockID", "lock held by runner-{n} since yesterday"),
            ("gh", "gh run list --workflow infra", "run {n} cancelled mid-apply"),
        ],
        errors: &[
            ("terraform", "terraform plan", "Error: Error acquiring the state lock: ConditionalCheckFailedException: The conditional request failed. Lock Info: ID: 9f1c2a7e-{n}"),
            ("terraform", "terraform apply -auto-approve", "Error: Error locking state: Error acquiring the state lock"),
        ],
        fixes: &[
            ("terraform", "terraform force-unlock 9f1c2a7e after confirming no run is active", "Terraform state has been successfully unlocked!"),
            ("edit_file", "add concurrency: group: terraform-{subject} to the workflow", "CI runs serialised"),
        ],
        verdicts: &[
            "Stale lock removed and CI runs serialised; plan and apply work again",
            "State unlocked safely; concurrency group prevents overlapping applies",
        ],
        queries: &[
            "infra deploy refuses to run because an earlier job left the backend locked",
            "iac tool says someone else holds the remote state, but nobody does",
            "interrupted pipeline left a mutex in the dynamo table",
        ],
    },
    Topic {
        key: "tf-drift",
        domain: "infra-terraform",
        family: "state",
        language: "hcl",
        framework: "terraform",
        kit: "terraform",
        kind: TaskType::Analysis,
        tasks: &[
            "Terraform plan shows drift: security group rules changed manually in the console",
            "Reconcile manual changes to the {subject} resources with Terraform state",
            "Detect and fix configuration drift on the {subject} module",
        ],
        probes: &[
            ("terraform", "terraform plan -refresh-only", "Note: Objects have changed outside of Terraform: aws_security_group.{subject} ingress"),
            ("aws", "aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=AuthorizeSecurityGroupIngress", "{n} events by a console user"),
        ],
        errors: &[
            ("terraform", "terraform plan", "Plan: 0 to add, 1 to change, 0 to destroy. ~ ingress { - cidr_blocks = [\"10.8.0.0/16\"] }"),
            ("terraform", "terraform apply", "Error: revoking security group ingress rule: InvalidPermission.NotFound"),
        ],
        fixes: &[
            ("edit_file", "codify the manually added ingress rule in {file}", "patched {file}: rule now in code"),
            ("terraform", "terraform apply -refresh-only", "Apply complete! Resources: 0 added, 0 changed, 0 destroyed."),
        ],
        verdicts: &[
            "Manual rule codified; plan is clean again",
            "Drift reconciled and a nightly plan job now alerts on changes",
        ],
        queries: &[
            "someone edited firewall rules by hand and now our IaC wants to revert them",
            "cloud resources differ from what the code declares after a console tweak",
            "out-of-band modification detected in infrastructure",
        ],
    },
    Topic {
        key: "tf-provider-upgrade",
        domain: "infra-terraform",
        family: "dependencies",
        language: "hcl",
        framework: "terraform",
        kit: "terraform",
        kind: TaskType::Refactoring,
        tasks: &[
            "Upgrade the Terraform AWS provider from 4.x to 5.x and fix breaking changes",
            "Migrate aws_s3_bucket acl arguments to aws_s3_bucket_acl for provider v5",
            "Bump hashicorp/aws in the {subject} module and resolve deprecated arguments",
        ],
        probes: &[
            ("read_file", "read the provider upgrade guide for version 5", "S3 bucket arguments split into separate resources"),
            ("terraform", "terraform init -upgrade", "Installed hashicorp/aws v5.{n}.0"),
        ],
        errors: &[
            ("terraform", "terraform validate", "Error: Unsupported argument: An argument named \"acl\" is not expected here."),
            ("terraform", "terraform plan", "Error: Value for unconfigurable attribute: Can't configure a value for \"versioning\": its value will be decided automatically"),
        ],
        fixes: &[
            ("edit_file", "move acl and versioning blocks to aws_s3_bucket_acl / aws_s3_bucket_versioning in {file}", "patched {file}: split resources"),
            ("terraform", "terraform import aws_s3_bucket_versioning.{subject} bucket-{subject}", "Import successful!"),
        ],
        verdicts: &[
            "Provider on 5.x; plan shows no changes after the resource split",
            "Upgrade done with imports, no resources recreated",
        ],
        queries: &[
            "moving to the newer aws plugin major version breaks bucket config",
            "after bumping the cloud provider library, storage options are rejected",
            "hashicorp release removed attributes we rely on for object storage",
        ],
    },
    Topic {
        key: "tf-dependency-cycle",
        domain: "infra-terraform",
        family: "dependencies",
        language: "hcl",
        framework: "terraform",
        kit: "terraform",
        kind: TaskType::Debugging,
        tasks: &[
            "Terraform reports a dependency cycle between the {subject} security group and the load balancer",
            "Break the Cycle error between aws_security_group and aws_lb in the {subject} module",
        ],
        probes: &[
            ("terraform", "terraform graph | grep {subject}", "aws_security_group.{subject} -> aws_lb.main -> aws_security_group.{subject}"),
            ("read_file", "read {file}: inline ingress referencing the LB group", "inline ingress blocks reference each other"),
        ],
        errors: &[
            ("terraform", "terraform plan", "Error: Cycle: aws_security_group.{subject}, aws_lb.main, aws_security_group.lb"),
            ("terraform", "terraform validate", "Error: Cycle: module.{subject}.aws_security_group.app"),
        ],
        fixes: &[
            ("edit_file", "replace inline ingress with separate aws_security_group_rule resources in {file}", "patched {file}: standalone rules"),
            ("terraform", "terraform plan", "Plan: 2 to add, 0 to change, 0 to destroy."),
        ],
        verdicts: &["Cycle broken with standalone rule resources; plan succeeds"],
        queries: &[
            "circular reference between firewall and balancer resources in IaC",
            "graph has a loop so the plan cannot be computed",
            "two network groups point at each other and hashicorp tooling refuses",
        ],
    },
    // ───────────────────────────── kubernetes ─────────────────────────────
    Topic {
        key: "k8s-oomkilled",
        domain: "kubernetes",
        family: "resources",
        language: "yaml",
        framework: "kubernetes",
        kit: "k8s",
        kind: TaskType::Debugging,
        tasks: &[
            "Pod {subject} keeps getting OOMKilled after the last release",
            "Kubernetes kills the {subject} container with exit code 137; raise limits or cut memory",
            "Investigate OOMKilled restarts of the {subject} deployment",
        ],
        probes: &[
            ("kubectl", "kubectl describe pod -l app={subject}", "Last State: Terminated Reason: OOMKilled Exit Code: 137 Restart Count: {n}"),
            ("kubectl", "kubectl top pod -l app={subject}", "memory {n}0Mi against a 512Mi limit"),
        ],
        errors: &[
            ("kubectl", "kubectl logs --previous deploy/{subject}", "fatal error: runtime: out of memory"),
            ("kubectl", "kubectl get events --field-selector reason=OOMKilling", "Memory cgroup out of memory: Killed process {n} ({subject})"),
        ],
        fixes: &[
            ("edit_file", "raise the memory limit to 1Gi and set GOMEMLIMIT=900MiB in {file}", "patched {file}: limits and GOMEMLIMIT"),
            ("edit_file", "stream the export instead of buffering it in memory", "buffering removed"),
        ],
        verdicts: &[
            "No OOMKilled restarts for 48 h after raising the limit and setting GOMEMLIMIT",
            "Memory now flat at 600Mi; pod stable",
        ],
        queries: &[
            "container killed for using too much RAM, restarts in a loop",
            "workload terminated with 137 again and again",
            "cgroup memory ceiling reached so the service gets reaped",
        ],
    },
    Topic {
        key: "k8s-hpa-not-scaling",
        domain: "kubernetes",
        family: "resources",
        language: "yaml",
        framework: "kubernetes",
        kit: "k8s",
        kind: TaskType::Debugging,
        tasks: &[
            "HorizontalPodAutoscaler does not add replicas for {subject} during traffic spikes",
            "HPA for {subject} stuck at minReplicas: metrics unavailable",
            "Fix autoscaling of the {subject} deployment when traffic spikes",
        ],
        probes: &[
            ("kubectl", "kubectl describe hpa {subject}", "unable to get metrics for resource cpu: no metrics returned from resource metrics API"),
            ("kubectl", "kubectl get deploy metrics-server -n kube-system", "Error from server (NotFound)"),
        ],
        errors: &[
            ("kubectl", "kubectl get hpa {subject}", "TARGETS <unknown>/70% MINPODS 2 MAXPODS 20 REPLICAS 2"),
            ("kubectl", "kubectl describe hpa {subject}", "FailedGetResourceMetric: missing request for cpu in container {subject}"),
        ],
        fixes: &[
            ("helm", "helm install metrics-server metrics-server/metrics-server", "STATUS: deployed"),
            ("edit_file", "set resources.requests.cpu: 250m in {file}", "patched {file}: cpu requests set"),
        ],
        verdicts: &[
            "HPA scales {subject} from 2 to 14 replicas in the load test",
            "Metrics available and CPU requests set; autoscaling works",
        ],
        queries: &[
            "replica count never grows when load goes up",
            "scaler shows unknown targets and stays at the minimum",
            "cluster doesn't spin up more copies of the app under heavy usage",
        ],
    },
    Topic {
        key: "k8s-crashloop-config",
        domain: "kubernetes",
        family: "startup",
        language: "yaml",
        framework: "kubernetes",
        kit: "k8s",
        kind: TaskType::Debugging,
        tasks: &[
            "{subject} deployment in CrashLoopBackOff after a ConfigMap change",
            "Pods of {subject} crash at startup: missing environment variable from the ConfigMap",
        ],
        probes: &[
            ("kubectl", "kubectl get pods -l app={subject}", "{subject}-7d9f  0/1  CrashLoopBackOff  {n} restarts"),
            ("kubectl", "kubectl diff -f {file}", "DATABASE_URL removed from the ConfigMap in the last commit"),
        ],
        errors: &[
            ("kubectl", "kubectl logs deploy/{subject}", "panic: required environment variable DATABASE_URL is not set"),
            ("kubectl", "kubectl describe pod -l app={subject}", "Back-off restarting failed container {subject} in pod"),
        ],
        fixes: &[
            ("edit_file", "restore DATABASE_URL in the ConfigMap and mark it required in {file}", "patched {file}"),
            ("kubectl", "kubectl rollout restart deploy/{subject}", "deployment.apps/{subject} restarted"),
        ],
        verdicts: &[
            "Config restored; pods Running with 0 restarts",
            "Variable restored and a schema check added to CI for the ConfigMap",
        ],
        queries: &[
            "workload keeps restarting right after boot since the new settings rollout",
            "pods die immediately because an env value vanished",
            "boot loop in the cluster after editing app configuration",
        ],
    },
    Topic {
        key: "k8s-imagepull-secret",
        domain: "kubernetes",
        family: "startup",
        language: "yaml",
        framework: "kubernetes",
        kit: "k8s",
        kind: TaskType::Debugging,
        tasks: &[
            "ImagePullBackOff for {subject}: private registry credentials missing",
            "Pods of {subject} cannot pull from registry.example.com: unauthorized",
        ],
        probes: &[
            ("kubectl", "kubectl describe pod -l app={subject}", "Failed to pull image \"registry.example.com/{subject}:1.{n}.0\""),
            ("kubectl", "kubectl get secrets -n {subject}", "no docker-registry secret in the namespace"),
        ],
        errors: &[
            ("kubectl", "kubectl get pods -l app={subject}", "{subject}-5c8b  0/1  ImagePullBackOff"),
            ("kubectl", "kubectl get events", "pull access denied for registry.example.com/{subject}, repository does not exist or may require 'docker login': unauthorized"),
        ],
        fixes: &[
            ("kubectl", "kubectl create secret docker-registry regcred --docker-server=registry.example.com", "secret/regcred created"),
            ("edit_file", "add imagePullSecrets: [regcred] to the pod spec in {file}", "patched {file}"),
        ],
        verdicts: &["Pull secret added; pods start normally"],
        queries: &[
            "cluster can't fetch the container from our private repo",
            "nodes get denied downloading the build artifact image",
            "authentication to the docker hub alternative fails for new pods",
        ],
    },
    Topic {
        key: "k8s-readiness-rollout",
        domain: "kubernetes",
        family: "startup",
        language: "yaml",
        framework: "kubernetes",
        kit: "k8s",
        kind: TaskType::Debugging,
        tasks: &[
            "Rolling update of {subject} drops requests: readiness probe passes before the app is ready",
            "502s during every {subject} deploy: add a real readiness probe and preStop hook",
        ],
        probes: &[
            ("read_file", "read {file}: the readiness probe", "readinessProbe: tcpSocket on 8080, initialDelaySeconds: 0"),
            ("kubectl", "kubectl rollout history deploy/{subject}", "{n} revisions"),
        ],
        errors: &[
            ("k6", "run traffic during kubectl rollout restart", "http_req_failed: 3.{n}% (502 Bad Gateway during rollout)"),
            ("kubectl", "kubectl logs deploy/{subject}", "warming caches... serving traffic before cache warm-up finished"),
        ],
        fixes: &[
            ("edit_file", "httpGet readiness on /healthz/ready and preStop sleep 10 in {file}", "patched {file}"),
            ("edit_file", "set maxUnavailable: 0 and maxSurge: 25% in {file}", "rollout strategy updated"),
        ],
        verdicts: &["Zero failed requests during three consecutive rollouts"],
        queries: &[
            "users see errors for a few seconds whenever we ship a new version",
            "deploys are not zero downtime, traffic reaches pods too early",
            "health check says ok before warm-up completes",
        ],
    },
    // ───────────────────────────── ci ─────────────────────────────
    Topic {
        key: "ci-flaky-timeout",
        domain: "ci",
        family: "flaky-tests",
        language: "python",
        framework: "github-actions",
        kit: "gha",
        kind: TaskType::Testing,
        tasks: &[
            "Flaky integration test times out intermittently in GitHub Actions",
            "test_{subject}_sync fails one run in five on CI with a timeout",
            "Stabilise the intermittently failing {subject} integration test",
        ],
        probes: &[
            ("gh", "gh run list --workflow ci --status failure", "{n} of the last 50 runs failed in test_{subject}_sync"),
            ("read_file", "read the test: it sleeps 2 s waiting for the worker", "time.sleep(2) before asserting the job finished"),
        ],
        errors: &[
            ("pytest", "pytest -x tests/integration -p no:randomly --count 20", "FAILED tests/integration/test_{subject}.py::test_{subject}_sync - TimeoutError: job not done after 60s"),
            ("gh", "gh run view --log-failed", "Error: The operation was canceled. The job running on runner GitHub Actions {n} has exceeded the maximum execution time"),
        ],
        fixes: &[
            ("edit_file", "replace the sleep with polling until the job is done (max 30 s) in {file}", "patched {file}: wait_until helper"),
            ("edit_file", "start the worker in a fixture and wait for its health endpoint", "fixture added"),
        ],
        verdicts: &[
            "Test passed 200 times in a row on CI after replacing the sleep with polling",
            "Flakiness gone; the test waits on readiness instead of time",
        ],
        queries: &[
            "test sometimes passes, sometimes hangs on the build server",
            "nondeterministic failure in the pipeline, green on rerun",
            "check randomly red on pull requests because a wait is too short",
        ],
    },
    Topic {
        key: "ci-order-dependent-tests",
        domain: "ci",
        family: "flaky-tests",
        language: "python",
        framework: "pytest",
        kit: "gha",
        kind: TaskType::Testing,
        tasks: &[
            "Tests pass alone but fail in the full suite: shared state between {subject} tests",
            "Order-dependent test failures with pytest-randomly in the {subject} suite",
        ],
        probes: &[
            ("pytest", "pytest -p randomly -p no:cacheprovider --randomly-seed={n}", "2 failures with this seed only"),
            ("grep", "grep for module-level globals mutated in tests", "settings.FEATURE_FLAGS mutated in test_{subject}_flags"),
        ],
        errors: &[
            ("pytest", "pytest tests/ -q", "FAILED tests/test_{subject}.py::test_defaults - AssertionError: assert {'beta': True} == {}"),
            ("pytest", "pytest tests/test_{subject}.py::test_defaults", "1 passed (alone)"),
        ],
        fixes: &[
            ("edit_file", "use monkeypatch for the feature flags in {file}", "patched {file}: no global mutation"),
            ("edit_file", "reset the app registry in an autouse fixture", "fixture resets state"),
        ],
        verdicts: &["Suite passes with 20 random orders; shared state removed"],
        queries: &[
            "specs succeed individually yet break when the whole collection runs",
            "leftover global state from one case poisons the next",
            "shuffling execution sequence exposes hidden coupling",
        ],
    },
    Topic {
        key: "ci-cache-miss",
        domain: "ci",
        family: "build-speed",
        language: "typescript",
        framework: "github-actions",
        kit: "gha",
        kind: TaskType::Refactoring,
        tasks: &[
            "GitHub Actions cache never hits, every build reinstalls node_modules",
            "Fix the actions/cache key for the {subject} workflow so npm dependencies are restored",
        ],
        probes: &[
            ("read_file", "read {file}: the cache step", "key: ${{ runner.os }}-npm-${{ github.sha }}"),
            ("gh", "gh run view --log | grep -i cache", "Cache not found for input keys: Linux-npm-{n}"),
        ],
        errors: &[
            ("gh", "gh run view --log", "npm ci took {n}s; Cache not found for input keys: Linux-npm-4f2a"),
            ("gh", "gh run watch", "Post job cleanup: Cache saved with key Linux-npm-{n}, never restored"),
        ],
        fixes: &[
            ("edit_file", "key the cache on hashFiles('**/package-lock.json') in {file}", "patched {file}"),
            ("edit_file", "use actions/setup-node with cache: npm", "setup-node caching enabled"),
        ],
        verdicts: &["Cache hits on every run; install step down from 3 min to 15 s"],
        queries: &[
            "pipeline downloads all packages from scratch each run, restore step always misses",
            "dependency installation is never reused between workflow executions",
            "lockfile-based key needed so builds stop refetching modules",
        ],
    },
    Topic {
        key: "ci-docker-layers",
        domain: "ci",
        family: "build-speed",
        language: "dockerfile",
        framework: "docker",
        kit: "gha",
        kind: TaskType::Refactoring,
        tasks: &[
            "Docker build in CI takes 20 minutes because every layer is rebuilt",
            "Reorder the Dockerfile and use BuildKit cache mounts to speed up the {subject} image",
        ],
        probes: &[
            ("read_file", "read the Dockerfile", "COPY . . before RUN pip install -r requirements.txt"),
            ("docker", "docker buildx build --progress=plain", "step 4/12 RUN pip install: {n}s, never CACHED"),
        ],
        errors: &[
            ("gh", "gh run view --log", "#9 [4/12] RUN pip install -r requirements.txt ... DONE 612.{n}s"),
            ("docker", "docker buildx build --cache-from type=gha", "WARNING: failed to fetch cache: no such manifest"),
        ],
        fixes: &[
            ("edit_file", "copy requirements.txt first, install, then COPY the source; add --mount=type=cache,target=/root/.cache/pip", "patched Dockerfile"),
            ("edit_file", "use docker/build-push-action with cache-to: type=gha,mode=max in {file}", "workflow updated"),
        ],
        verdicts: &["Image builds in 2 minutes with cached dependency layers"],
        queries: &[
            "container image compile step redoes everything on each commit",
            "our container recipe invalidates the dependency install whenever source changes",
            "speed up building the OCI artifact in the workflow",
        ],
    },
    Topic {
        key: "ci-fork-secrets",
        domain: "ci",
        family: "permissions",
        language: "yaml",
        framework: "github-actions",
        kit: "gha",
        kind: TaskType::Debugging,
        tasks: &[
            "Workflow fails on pull requests from forks: secrets are empty",
            "Deploy preview job breaks for external contributors because GITHUB_TOKEN is read-only",
        ],
        probes: &[
            ("read_file", "read {file}: the trigger", "on: pull_request, uses secrets.PREVIEW_TOKEN"),
            ("gh", "gh api repos/:owner/:repo/actions/permissions", "default workflow permissions: read"),
        ],
        errors: &[
            ("gh", "gh run view --log-failed", "Error: Input required and not supplied: token"),
            ("gh", "gh run view --log-failed", "HttpError: Resource not accessible by integration (403)"),
        ],
        fixes: &[
            ("edit_file", "split into pull_request (build) and workflow_run (deploy preview) in {file}", "patched {file}"),
            ("edit_file", "skip the preview step when github.event.pull_request.head.repo.fork", "condition added"),
        ],
        verdicts: &["Fork pull requests build; previews deploy from a trusted workflow_run"],
        queries: &[
            "outside contributors' PR checks break since credentials aren't available",
            "token missing when a pull request comes from a forked repository",
        ],
    },
    // ───────────────────────────── frontend ─────────────────────────────
    Topic {
        key: "react-rerender",
        domain: "frontend",
        family: "rendering-performance",
        language: "typescript",
        framework: "react",
        kit: "node",
        kind: TaskType::Debugging,
        tasks: &[
            "React {subject} list re-renders on every keystroke and the page lags",
            "Memoize the {subject} rows to stop unnecessary React re-renders",
        ],
        probes: &[
            ("browser", "record with the React Profiler while typing", "<{subject}Row> rendered {n} times in one interaction"),
            ("read_file", "read {file}: props passed to rows", "new inline callback and object props on every render"),
        ],
        errors: &[
            ("browser", "Chrome performance trace while typing", "Long task: {n}0 ms (scripting) on each input event"),
            ("npm test", "run the render-count test", "expected {subject}Row to render 1 time, rendered 842 times"),
        ],
        fixes: &[
            ("edit_file", "wrap {subject}Row in React.memo and stabilise callbacks with useCallback in {file}", "patched {file}"),
            ("edit_file", "debounce the filter input by 150 ms and virtualise the list with react-window", "list virtualised"),
        ],
        verdicts: &["Typing is smooth; rows render once per change"],
        queries: &[
            "typing into the search box makes the UI sluggish in our spa",
            "every character entered redraws the whole table",
            "components repaint far too often on input",
        ],
    },
    Topic {
        key: "react-effect-loop",
        domain: "frontend",
        family: "rendering-performance",
        language: "typescript",
        framework: "react",
        kit: "node",
        kind: TaskType::Debugging,
        tasks: &[
            "Infinite loop: useEffect refetches {subject} forever",
            "Fix the useEffect dependency array that re-triggers the {subject} fetch on every render",
        ],
        probes: &[
            ("browser", "open the network tab on the {subject} page", "{n} identical GET /api/{subject} requests per second"),
            ("read_file", "read {file}: the effect", "useEffect(() => fetchData(filters), [filters]) where filters is a new object each render"),
        ],
        errors: &[
            ("browser", "open the console", "Warning: Maximum update depth exceeded. This can happen when a component calls setState inside useEffect"),
            ("npm test", "run the {subject} component test", "expected fetch to be called 1 time, called {n} times"),
        ],
        fixes: &[
            ("edit_file", "memoise filters with useMemo and depend on its fields in {file}", "patched {file}"),
            ("edit_file", "move the fetch into React Query with a stable key", "query hook added"),
        ],
        verdicts: &["One request per filter change; the warning is gone"],
        queries: &[
            "component keeps calling the API endlessly after mount",
            "hook fires again and again, network tab floods with identical requests",
            "side effect reruns because a dependency object changes identity",
        ],
    },
    Topic {
        key: "next-hydration-mismatch",
        domain: "frontend",
        family: "ssr",
        language: "typescript",
        framework: "nextjs",
        kit: "node",
        kind: TaskType::Debugging,
        tasks: &[
            "Next.js hydration error on the {subject} page: text content does not match server-rendered HTML",
            "Fix the hydration mismatch caused by rendering dates on the server",
        ],
        probes: &[
            ("browser", "open the {subject} page with the console open", "Warning: Text content did not match. Server: \"10:02\" Client: \"12:02\""),
            ("read_file", "read {file}", "new Date().toLocaleTimeString() in the render path"),
        ],
        errors: &[
            ("browser", "reload the {subject} page", "Error: Hydration failed because the initial UI does not match what was rendered on the server."),
            ("npm run build", "next build && next start", "Unhandled Runtime Error: There was an error while hydrating"),
        ],
        fixes: &[
            ("edit_file", "render the timestamp on the client only with useEffect in {file}", "patched {file}"),
            ("edit_file", "format dates in UTC on both sides", "shared formatter"),
        ],
        verdicts: &["No hydration warnings on the {subject} page"],
        queries: &[
            "markup from the server differs from what the browser builds on first load",
            "ssr and client disagree on rendered text so react complains",
            "time zone difference breaks initial page attach",
        ],
    },
    Topic {
        key: "frontend-bundle-size",
        domain: "frontend",
        family: "build",
        language: "typescript",
        framework: "vite",
        kit: "node",
        kind: TaskType::Refactoring,
        tasks: &[
            "JavaScript bundle grew to 4 MB; the first load of the {subject} app is slow",
            "Code-split the {subject} routes and drop moment.js to shrink the bundle",
        ],
        probes: &[
            ("npx", "npx vite-bundle-visualizer", "moment locales {n}0 KB, chart library 900 KB in the entry chunk"),
            ("browser", "Lighthouse on the {subject} page", "Largest Contentful Paint 6.{n} s"),
        ],
        errors: &[
            ("npm run build", "vite build", "(!) Some chunks are larger than 500 kB after minification"),
            ("npm test", "size-limit", "Package size limit has exceeded by {n}0 kB"),
        ],
        fixes: &[
            ("edit_file", "lazy-load the {subject} routes with React.lazy and dynamic import() in {file}", "patched {file}"),
            ("edit_file", "replace moment with date-fns", "moment removed"),
        ],
        verdicts: &["Entry chunk down to 380 KB; LCP 1.9 s"],
        queries: &[
            "initial page download is huge, need to split the code",
            "web app ships megabytes of script before anything shows",
            "trim the shipped js payload, lazy routes",
        ],
    },
    Topic {
        key: "css-safari-flex",
        domain: "frontend",
        family: "layout",
        language: "css",
        framework: "css",
        kit: "node",
        kind: TaskType::Debugging,
        tasks: &[
            "Flexbox layout of the {subject} cards breaks in Safari",
            "Fix the {subject} grid: gap and min-height behave differently in Safari 15",
        ],
        probes: &[
            ("browser", "open the {subject} page in Safari Technology Preview", "cards overflow their container, gap ignored"),
            ("read_file", "read {file}: the card styles", "height: 100% inside a flex item without min-height: 0"),
        ],
        errors: &[
            ("playwright", "run the visual regression test on webkit", "Screenshot comparison failed: {n}0 pixels differ on {subject}-cards.png"),
            ("playwright", "npx playwright test --project=webkit", "expect(locator).toBeInViewport() failed"),
        ],
        fixes: &[("edit_file", "add min-height: 0 and replace gap with margins for Safari in {file}", "patched {file}")],
        verdicts: &["Cards render identically in Chrome, Firefox and Safari"],
        queries: &[
            "cards overlap only on apple's browser",
            "webkit renders our boxes squashed while chromium is fine",
            "styling bug specific to macOS and iPhone browser",
        ],
    },
    // ───────────────────────────── mobile ─────────────────────────────
    Topic {
        key: "android-anr-main-thread",
        domain: "mobile",
        family: "main-thread",
        language: "kotlin",
        framework: "android",
        kit: "android",
        kind: TaskType::Debugging,
        tasks: &[
            "ANR on the {subject} screen: disk I/O on the main thread",
            "Move the {subject} database reads off the Android main thread",
        ],
        probes: &[
            ("adb", "adb pull /data/anr/traces.txt", "\"main\" blocked in SQLiteConnection.nativeExecuteForCursorWindow"),
            ("read_file", "read {file}", "Room DAO called directly from onCreateView"),
        ],
        errors: &[
            ("adb", "adb logcat | grep ANR", "ANR in com.example.app (com.example.app/.{subject}Activity) Reason: Input dispatching timed out"),
            ("gradle", "run StrictMode in debug", "StrictMode policy violation; ~duration={n} ms: android.os.strictmode.DiskReadViolation"),
        ],
        fixes: &[
            ("edit_file", "load data in the ViewModel with viewModelScope.launch(Dispatchers.IO) in {file}", "patched {file}"),
            ("edit_file", "expose a Flow from the DAO and collect it in repeatOnLifecycle", "flow collection added"),
        ],
        verdicts: &["No ANRs in the vitals dashboard for a week; StrictMode clean"],
        queries: &[
            "app freezes and the system offers to close it when opening a screen",
            "ui thread blocked by storage reads on google phones",
            "application not responding dialog in kotlin app",
        ],
    },
    Topic {
        key: "android-bitmap-oom",
        domain: "mobile",
        family: "memory",
        language: "kotlin",
        framework: "android",
        kit: "android",
        kind: TaskType::Debugging,
        tasks: &[
            "OutOfMemoryError when loading large images in the {subject} gallery",
            "Android {subject} screen crashes decoding full-size photos",
        ],
        probes: &[
            ("adb", "adb shell dumpsys meminfo com.example.app", "Graphics: {n}0 MB while scrolling the {subject} grid"),
            ("read_file", "read {file}", "BitmapFactory.decodeFile without inSampleSize"),
        ],
        errors: &[
            ("adb", "adb logcat", "java.lang.OutOfMemoryError: Failed to allocate a 48771084 byte allocation with 25165824 free bytes and 23MB until OOM"),
            ("gradle", "run the gallery instrumentation test on a 2 GB device", "Process crashed: OutOfMemoryError"),
        ],
        fixes: &[("edit_file", "decode with inSampleSize / load thumbnails through Coil with size() in {file}", "patched {file}")],
        verdicts: &["Gallery scrolls 2,000 photos on a 2 GB device without crashing"],
        queries: &[
            "photo grid crashes on older phones because pictures are too big",
            "decoding camera shots exhausts the app heap",
            "image thumbnails should be downsampled, app dies when browsing pictures",
        ],
    },
    Topic {
        key: "ios-background-ui-update",
        domain: "mobile",
        family: "main-thread",
        language: "swift",
        framework: "uikit",
        kit: "ios",
        kind: TaskType::Debugging,
        tasks: &[
            "iOS crash: UI updated from a background thread in {subject}",
            "Dispatch the {subject} label updates to the main queue after URLSession callbacks",
        ],
        probes: &[
            ("xcodebuild", "run with the Main Thread Checker enabled", "UI API called on a background thread: -[UILabel setText:]"),
            ("read_file", "read {file}", "completion handler of dataTask sets label.text directly"),
        ],
        errors: &[
            ("xcodebuild", "xcodebuild test", "Main Thread Checker: UI API called on a background thread: -[UILabel setText:] PID: {n}"),
            ("read_file", "read the crash log from TestFlight", "EXC_BAD_ACCESS in UIKitCore -[UIView layoutSubviews]"),
        ],
        fixes: &[
            ("edit_file", "mark the view model @MainActor and await the request in {file}", "patched {file}"),
            ("edit_file", "wrap UI updates in DispatchQueue.main.async", "updates on main queue"),
        ],
        verdicts: &["Main Thread Checker clean; the crash is gone from TestFlight"],
        queries: &[
            "iphone app crashes when refreshing labels after a network call",
            "views modified off the main actor in swift",
            "apple app randomly dies after fetch completes",
        ],
    },
    Topic {
        key: "ios-push-production",
        domain: "mobile",
        family: "notifications",
        language: "swift",
        framework: "uikit",
        kit: "ios",
        kind: TaskType::Debugging,
        tasks: &[
            "Push notifications not delivered in production builds",
            "APNs returns BadDeviceToken for App Store builds of the {subject} app",
        ],
        probes: &[
            ("read_file", "read the entitlements file", "aps-environment: development"),
            ("curl", "curl the APNs endpoint with a production device token", "HTTP/2 400 {\"reason\":\"BadDeviceToken\"}"),
        ],
        errors: &[
            ("read_file", "read the notification service log", "APNs response: 400 BadDeviceToken for {n} tokens"),
            ("curl", "send a test push to api.sandbox.push.apple.com with a release token", "{\"reason\":\"BadDeviceToken\"}"),
        ],
        fixes: &[("edit_file", "use api.push.apple.com for production tokens and store the environment per token", "patched {file}")],
        verdicts: &[
            "Release builds receive notifications; sandbox and production tokens separated",
        ],
        queries: &[
            "alerts reach test devices but not app store users",
            "remote notifications silently dropped for released iphone builds",
        ],
    },
    // ───────────────────────────── ml-training ─────────────────────────────
    Topic {
        key: "ml-cuda-oom",
        domain: "ml-training",
        family: "gpu-memory",
        language: "python",
        framework: "pytorch",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "CUDA out of memory when training {subject} with batch size 64",
            "Fit {subject} training on a 24 GB GPU: gradient accumulation and mixed precision",
        ],
        probes: &[
            ("nvidia-smi", "nvidia-smi --query-gpu=memory.used --format=csv -l 1", "23{n} MiB used at step 1"),
            ("python", "torch.cuda.memory_summary() after the first backward", "activations {n}.2 GiB"),
        ],
        errors: &[
            ("python", "python train.py --model {subject} --batch-size 64", "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.69 GiB total capacity; 21.{n} GiB already allocated)"),
            ("python", "python train.py --batch-size 48", "RuntimeError: CUDA error: out of memory"),
        ],
        fixes: &[
            ("edit_file", "batch 16 with 4 gradient accumulation steps and torch.autocast(bfloat16) in {file}", "patched {file}"),
            ("edit_file", "enable activation checkpointing on the encoder blocks", "checkpointing on"),
        ],
        verdicts: &[
            "Effective batch 64 fits in 18 GB with bf16 and accumulation; loss curve unchanged",
        ],
        queries: &[
            "gpu runs out of vram during training, need a bigger effective batch",
            "accelerator memory exhausted in the first backward pass",
            "nvidia card too small for the model at this batch",
        ],
    },
    Topic {
        key: "ml-loss-nan",
        domain: "ml-training",
        family: "training-stability",
        language: "python",
        framework: "pytorch",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "Training loss becomes NaN after a few hundred steps on {subject}",
            "Fix exploding gradients in {subject} training: clipping and warmup",
        ],
        probes: &[
            ("python", "log the gradient norm per step", "grad norm 1e{n} at step 390"),
            ("python", "torch.autograd.set_detect_anomaly(True)", "Function 'LogSoftmaxBackward0' returned nan values"),
        ],
        errors: &[
            ("python", "python train.py --lr 3e-3", "step 412 loss=nan lr=0.003 grad_norm=inf"),
            ("python", "python train.py --fp16", "RuntimeError: Function 'MulBackward0' returned nan values in its 0th output."),
        ],
        fixes: &[
            ("edit_file", "clip_grad_norm_(model.parameters(), 1.0) and 1,000 warmup steps in {file}", "patched {file}"),
            ("edit_file", "lower the peak learning rate to 1e-3", "lr lowered"),
        ],
        verdicts: &["Loss decreases smoothly for 20k steps with clipping and warmup"],
        queries: &[
            "model diverges and metrics turn into not-a-number midway",
            "optimisation blows up after a while, values become invalid",
            "learning rate too high so weights go to infinity",
        ],
    },
    Topic {
        key: "ml-dataloader-bottleneck",
        domain: "ml-training",
        family: "throughput",
        language: "python",
        framework: "pytorch",
        kit: "python",
        kind: TaskType::Analysis,
        tasks: &[
            "GPU utilisation at 30% while training {subject}: the DataLoader is the bottleneck",
            "Speed up {subject} input pipeline: more workers, pinned memory, prefetch",
        ],
        probes: &[
            ("nvidia-smi", "nvidia-smi dmon", "sm {n}% average, bursts then idle"),
            ("python", "torch.profiler over 50 steps", "DataLoader __next__ {n}0 ms per step, forward+backward 90 ms"),
        ],
        errors: &[
            ("python", "python train.py --num-workers 16", "RuntimeError: DataLoader worker (pid {n}) is killed by signal: Bus error (shared memory too small)"),
            ("python", "time one epoch", "epoch took 3{n} min, expected under 15"),
        ],
        fixes: &[
            ("edit_file", "num_workers=8, pin_memory=True, persistent_workers=True, prefetch_factor=4 in {file}", "patched {file}"),
            ("edit_file", "decode JPEGs on the GPU with DALI", "decoding moved to GPU"),
        ],
        verdicts: &["GPU busy at 95%; epoch time halved"],
        queries: &[
            "accelerator idles waiting on input batches",
            "card is mostly idle because image decoding is slow",
            "feeding the model is slower than computing on it",
        ],
    },
    Topic {
        key: "ml-split-leakage",
        domain: "ml-training",
        family: "evaluation",
        language: "python",
        framework: "scikit-learn",
        kit: "python",
        kind: TaskType::Analysis,
        tasks: &[
            "Validation accuracy suspiciously high for {subject}: duplicates between train and test splits",
            "Deduplicate before splitting the {subject} dataset and re-evaluate",
        ],
        probes: &[("python", "hash every example and intersect train and test", "{n}% of test examples also in train")],
        errors: &[
            ("python", "evaluate on the fresh holdout from last month", "accuracy 0.71 (reported 0.97 on the old split)"),
            ("pytest", "run the data contract test", "AssertionError: {n} overlapping ids between train and test"),
        ],
        fixes: &[("edit_file", "group-split by user id with GroupShuffleSplit after dedup in {file}", "patched {file}")],
        verdicts: &["Honest split: 0.78 accuracy, matching the fresh holdout"],
        queries: &[
            "suspiciously good held-out score, samples overlap across partitions",
            "evaluation numbers too optimistic, same records in both sets",
        ],
    },
    Topic {
        key: "ml-ddp-nccl-hang",
        domain: "ml-training",
        family: "distributed",
        language: "python",
        framework: "pytorch",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "Distributed training of {subject} hangs at the first all-reduce with DDP on 4 nodes",
            "NCCL watchdog timeout in multi-node {subject} training",
        ],
        probes: &[("bash", "NCCL_DEBUG=INFO torchrun --nnodes 4", "NET/Socket : Using eth0 on rank 0, docker0 on rank {n}")],
        errors: &[
            ("bash", "torchrun --nnodes 4 --nproc-per-node 8 train.py", "[E ProcessGroupNCCL.cpp] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1, OpType=ALLREDUCE, Timeout(ms)=600000)"),
            ("bash", "py-spy dump on rank {n}", "all ranks waiting in allreduce"),
        ],
        fixes: &[("edit_file", "export NCCL_SOCKET_IFNAME=eth0 in the launch script", "patched {file}")],
        verdicts: &["All 32 ranks train; NCCL uses the right interface"],
        queries: &[
            "multi-machine training freezes at startup while syncing gradients",
            "collective communication never completes across servers",
        ],
    },
    // ───────────────────────────── security ─────────────────────────────
    Topic {
        key: "sec-sql-injection",
        domain: "security",
        family: "injection",
        language: "python",
        framework: "django",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "SQL injection in the {subject} endpoint: query built with string formatting",
            "Replace raw SQL string interpolation in the Django {subject} view with parameters",
        ],
        probes: &[
            ("sqlmap", "sqlmap -u /{subject}?q=test --batch", "Parameter 'q' is vulnerable. GET parameter 'q' is 'boolean-based blind' injectable"),
            ("grep", "grep -rn \"cursor.execute(f\" app/", "{n} matches, one in {file}"),
        ],
        errors: &[
            ("http_request", "GET /{subject}?q=' OR 1=1--", "HTTP 200 with {n}000 rows (all records)"),
            ("bandit", "bandit -r app/", "B608: Possible SQL injection vector through string-based query construction"),
        ],
        fixes: &[
            ("edit_file", "pass the search term as a query parameter (%s with params) in {file}", "patched {file}"),
            ("edit_file", "use the ORM filter with icontains instead of raw SQL", "raw SQL removed"),
        ],
        verdicts: &["sqlmap finds nothing; bandit clean"],
        queries: &[
            "attacker can tamper with the db via the search box input",
            "user text gets concatenated into a relational statement",
            "quote character in a filter field returns every record",
        ],
    },
    Topic {
        key: "sec-stored-xss",
        domain: "security",
        family: "injection",
        language: "typescript",
        framework: "react",
        kit: "node",
        kind: TaskType::Debugging,
        tasks: &[
            "Stored XSS: {subject} rendered with dangerouslySetInnerHTML",
            "Sanitise user HTML in {subject} with DOMPurify and add a CSP",
        ],
        probes: &[("grep", "grep -rn dangerouslySetInnerHTML src/", "{n} matches, one in {file}")],
        errors: &[
            ("browser", "post a comment containing <img src=x onerror=alert(document.cookie)>", "alert fired for every visitor of the {subject} page"),
            ("zap", "OWASP ZAP active scan", "High: Cross Site Scripting (Persistent) at /{subject}"),
        ],
        fixes: &[
            ("edit_file", "sanitise with DOMPurify.sanitize before rendering in {file}", "patched {file}"),
            ("edit_file", "add Content-Security-Policy: script-src 'self'", "CSP header set"),
        ],
        verdicts: &["Payload rendered inert; ZAP scan clean"],
        queries: &[
            "user-submitted text runs scripts in other people's browsers",
            "malicious markup in posts executes javascript for readers",
        ],
    },
    Topic {
        key: "sec-dependency-cve",
        domain: "security",
        family: "supply-chain",
        language: "javascript",
        framework: "npm",
        kit: "node",
        kind: TaskType::Analysis,
        tasks: &[
            "npm audit: critical vulnerability in a transitive dependency",
            "Patch the critical CVE in the {subject} service's dependency tree",
        ],
        probes: &[("npm", "npm ls minimist", "minimist@0.0.8 via mkdirp@0.5.1 via {n} packages")],
        errors: &[
            ("npm", "npm audit --production", "{n} vulnerabilities (1 critical): Prototype Pollution in minimist"),
            ("npm", "npm audit fix", "npm ERR! Could not resolve dependency: peer react@\"^17\""),
        ],
        fixes: &[
            ("edit_file", "add an overrides entry pinning minimist to ^1.2.8 in package.json", "patched package.json"),
            ("npm", "npm update mkdirp", "updated 3 packages"),
        ],
        verdicts: &["npm audit reports 0 critical; tests pass"],
        queries: &[
            "scanner flags a severe advisory deep in our package tree",
            "indirect library has a known exploit and the direct dependency hasn't updated",
        ],
    },
    Topic {
        key: "sec-leaked-aws-key",
        domain: "security",
        family: "secrets",
        language: "bash",
        framework: "git",
        kit: "gha",
        kind: TaskType::Other,
        tasks: &[
            "AWS access key committed to the repository: rotate it and purge it from history",
            "gitleaks found credentials in the {subject} repo history",
        ],
        probes: &[
            ("gitleaks", "gitleaks detect --log-opts=--all", "Finding: AKIA**************** RuleID: aws-access-token, commit {n}"),
            ("aws", "aws iam list-access-keys --user-name ci-{subject}", "key active, last used 2 hours ago"),
        ],
        errors: &[
            ("aws", "aws cloudtrail lookup-events for the key", "{n} calls from an unknown IP in eu-north-1"),
            ("git", "git push --force after filter-repo", "remote: error: GH006: Protected branch update failed"),
        ],
        fixes: &[
            ("aws", "aws iam update-access-key --status Inactive, then create a new key in the secret store", "key rotated"),
            ("git", "git filter-repo --replace-text secrets.txt and coordinate the force-push", "history rewritten"),
        ],
        verdicts: &["Key revoked and rotated; history purged and a pre-commit gitleaks hook added"],
        queries: &[
            "cloud credential accidentally pushed to source control",
            "secret token visible in an old commit, need to invalidate it",
        ],
    },
    Topic {
        key: "sec-tls-expired",
        domain: "security",
        family: "certificates",
        language: "bash",
        framework: "certbot",
        kit: "nginx",
        kind: TaskType::Debugging,
        tasks: &[
            "TLS certificate expired on the {subject} endpoint; renewals were silently failing",
            "Fix certbot renewal for {subject} and alert before certificates expire",
        ],
        probes: &[
            ("openssl", "openssl s_client -connect {subject}.example.com:443 | openssl x509 -noout -dates", "notAfter=... {n} days ago"),
            ("read_file", "read /var/log/letsencrypt/letsencrypt.log", "HTTP-01 challenge blocked by the redirect"),
        ],
        errors: &[
            ("curl", "curl https://{subject}.example.com", "curl: (60) SSL certificate problem: certificate has expired"),
            ("certbot", "certbot renew --dry-run", "Challenge failed for domain {subject}.example.com: Invalid response from http://.../.well-known/acme-challenge: 404"),
        ],
        fixes: &[
            ("edit_file", "serve /.well-known/acme-challenge before the HTTPS redirect in {file}", "patched {file}"),
            ("certbot", "certbot renew", "Congratulations, all renewals succeeded"),
        ],
        verdicts: &["Certificate renewed; expiry alert fires 21 days ahead"],
        queries: &[
            "browsers show a not secure warning, https cert lapsed and auto renew broke",
            "letsencrypt challenge keeps failing so the site's certificate ran out",
        ],
    },
    // ───────────────────────────── observability ─────────────────────────────
    Topic {
        key: "obs-prom-cardinality",
        domain: "observability",
        family: "metrics",
        language: "go",
        framework: "prometheus",
        kit: "go",
        kind: TaskType::Debugging,
        tasks: &[
            "Prometheus memory explodes: high-cardinality user_id label on {subject} metrics",
            "Drop the user_id label from the {subject} request counter",
        ],
        probes: &[
            ("promtool", "promtool tsdb analyze /prometheus", "Highest cardinality labels: user_id {n}00000"),
            ("read_file", "read {file}", "prometheus.NewCounterVec(..., []string{\"route\", \"user_id\"})"),
        ],
        errors: &[
            ("kubectl", "kubectl logs prometheus-0 --previous", "fatal error: runtime: out of memory (head series 4.1M)"),
            ("curl", "curl prometheus:9090/api/v1/status/tsdb", "numSeries: {n}412311"),
        ],
        fixes: &[
            ("edit_file", "remove user_id from the label set in {file}", "patched {file}"),
            ("edit_file", "add a metric_relabel_configs drop rule for user_id", "relabel rule added"),
        ],
        verdicts: &["Series count down 95%; Prometheus memory stable"],
        queries: &[
            "monitoring server eats all memory because a metric tags every customer",
            "time series count exploded after adding a per-user dimension",
        ],
    },
    Topic {
        key: "obs-trace-propagation",
        domain: "observability",
        family: "tracing",
        language: "go",
        framework: "opentelemetry",
        kit: "go",
        kind: TaskType::Debugging,
        tasks: &[
            "Traces from {subject} stop at the service boundary: context not propagated",
            "Propagate W3C traceparent from {subject} to downstream services",
        ],
        probes: &[
            ("curl", "curl -v the downstream with the outgoing request logged", "no traceparent header on outgoing requests"),
            ("read_file", "read {file}", "plain http.Client without otelhttp.NewTransport"),
        ],
        errors: &[
            ("browser", "open the trace in Jaeger", "trace has 1 service; downstream spans appear as separate root traces ({n})"),
            ("go test", "go test ./internal/{subject} -run TestPropagation", "expected parent span id, got 0000000000000000"),
        ],
        fixes: &[("edit_file", "wrap the client transport with otelhttp.NewTransport and set the global propagator in {file}", "patched {file}")],
        verdicts: &["End-to-end traces across {subject} and its downstreams"],
        queries: &[
            "spans appear disconnected across microservices, no end-to-end view",
            "distributed request view breaks at each hop",
        ],
    },
    Topic {
        key: "obs-alert-flapping",
        domain: "observability",
        family: "alerting",
        language: "yaml",
        framework: "prometheus",
        kit: "k8s",
        kind: TaskType::Refactoring,
        tasks: &[
            "PagerDuty alert for {subject} latency flaps every few minutes",
            "Add a for: duration and hysteresis to the {subject} latency alert rule",
        ],
        probes: &[
            ("read_file", "read the alert rule", "expr: histogram_quantile(0.99, ...) > 0.5 with no for:"),
            ("curl", "query ALERTS{alertname=\"{subject}Latency\"} over 24 h", "{n} firing/resolved transitions"),
        ],
        errors: &[("promtool", "promtool test rules alerts_test.yml", "FAILED: alert fired at 1m, expected no alert for a 2-minute spike")],
        fixes: &[("edit_file", "for: 10m and a 5-minute rate window in {file}", "patched {file}")],
        verdicts: &["One page per real incident; transitions down from dozens to two"],
        queries: &[
            "on-call gets paged repeatedly by a warning that fires and resolves constantly",
            "noisy pager notifications, need a grace period",
        ],
    },
    Topic {
        key: "obs-log-volume",
        domain: "observability",
        family: "logging",
        language: "python",
        framework: "fluent-bit",
        kit: "python",
        kind: TaskType::Analysis,
        tasks: &[
            "Log volume doubled and ingestion costs spiked: debug logging left on in {subject}",
            "Cut {subject} log ingestion: sample health checks and drop debug lines",
        ],
        probes: &[("bash", "count log lines per logger over an hour", "{n}0% from {subject}.http debug lines")],
        errors: &[("read_file", "read the billing export", "log ingestion {n} GB/day, twice last month")],
        fixes: &[
            ("edit_file", "set LOG_LEVEL=info and drop /healthz access logs in {file}", "patched {file}"),
            ("edit_file", "add a fluent-bit grep filter excluding level=debug", "filter added"),
        ],
        verdicts: &["Ingestion back to 40 GB/day"],
        queries: &[
            "our observability bill jumped, something is too chatty",
            "way too many lines shipped to the aggregator",
        ],
    },
    // ───────────────────────────── payments ─────────────────────────────
    Topic {
        key: "pay-webhook-signature",
        domain: "payments",
        family: "webhooks",
        language: "python",
        framework: "stripe",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "Stripe webhook signature verification fails in the {subject} handler",
            "construct_event raises SignatureVerificationError for every {subject} webhook",
        ],
        probes: &[
            ("read_file", "read {file}", "payload = json.dumps(request.json) passed to construct_event"),
            ("stripe", "stripe listen --forward-to localhost:8000/webhooks/{subject}", "Ready! whsec_... forwarding"),
        ],
        errors: &[
            ("stripe", "stripe trigger payment_intent.succeeded", "stripe.error.SignatureVerificationError: No signatures found matching the expected signature for payload"),
            ("read_file", "read the webhook dashboard", "{n} failed deliveries with HTTP 400"),
        ],
        fixes: &[
            ("edit_file", "verify the raw request body (request.data) before parsing JSON in {file}", "patched {file}"),
            ("edit_file", "read the endpoint secret from STRIPE_WEBHOOK_SECRET for this endpoint", "secret fixed"),
        ],
        verdicts: &["Signatures verify; deliveries succeed"],
        queries: &[
            "payment provider callbacks get rejected as unauthentic",
            "hmac check on incoming billing events never matches",
        ],
    },
    Topic {
        key: "pay-webhook-duplicates",
        domain: "payments",
        family: "webhooks",
        language: "python",
        framework: "stripe",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "Duplicate processing of Stripe webhook events for {subject}",
            "Make the {subject} webhook handler idempotent by storing processed event ids",
        ],
        probes: &[("psql", "SELECT event_id, count(*) FROM {subject}_fulfilments GROUP BY 1 HAVING count(*) > 1", "{n} duplicated events")],
        errors: &[("read_file", "read the handler log", "evt_{n} handled twice: Stripe retried after a 30 s response")],
        fixes: &[
            ("edit_file", "insert event.id into processed_events with ON CONFLICT DO NOTHING before fulfilling in {file}", "patched {file}"),
            ("edit_file", "acknowledge with 200 immediately and process in a background job", "handler acknowledges fast"),
        ],
        verdicts: &["Each event fulfilled once, even when Stripe retries"],
        queries: &[
            "same provider notification handled more than once, orders fulfilled twice",
            "retries from the billing platform create repeated shipments",
        ],
    },
    Topic {
        key: "pay-double-charge",
        domain: "payments",
        family: "idempotency",
        language: "go",
        framework: "stripe",
        kit: "go",
        kind: TaskType::Debugging,
        tasks: &[
            "Customers charged twice when the {subject} request is retried",
            "Add idempotency keys to PaymentIntent creation in {subject}",
        ],
        probes: &[
            ("read_file", "read {file}", "PaymentIntent created without an Idempotency-Key header"),
            ("psql", "SELECT customer_id, amount, count(*) FROM charges WHERE created > now() - interval '1 day' GROUP BY 1,2 HAVING count(*) > 1", "{n} customers"),
        ],
        errors: &[("read_file", "read the support tickets", "{n} complaints about double charges after the client retry on timeout")],
        fixes: &[("edit_file", "derive an idempotency key from the order id and send it on create in {file}", "patched {file}")],
        verdicts: &["Retries reuse the same PaymentIntent; no double charges since"],
        queries: &[
            "users billed two times after a client retry",
            "repeat submission of the pay button takes money twice",
        ],
    },
    Topic {
        key: "pay-rounding",
        domain: "payments",
        family: "money-math",
        language: "typescript",
        framework: "node",
        kit: "node",
        kind: TaskType::Debugging,
        tasks: &[
            "Invoice totals off by one cent: float rounding in the {subject} currency math",
            "Store {subject} amounts as integer minor units instead of floats",
        ],
        probes: &[
            ("node", "node -e \"console.log(0.1 + 0.2)\"", "0.30000000000000004"),
            ("read_file", "read {file}", "total = items.reduce((s, i) => s + i.price * i.qty, 0)"),
        ],
        errors: &[("npm test", "run the invoice tests", "expected 1999 to equal 2000 (cents) for {n} line items")],
        fixes: &[("edit_file", "use integer cents and banker's rounding for tax in {file}", "patched {file}")],
        verdicts: &["Totals match the ledger to the cent"],
        queries: &[
            "penny discrepancies in totals due to decimal handling",
            "floating point errors in billing amounts",
        ],
    },
    // ───────────────────────────── search ─────────────────────────────
    Topic {
        key: "es-field-explosion",
        domain: "search",
        family: "indexing",
        language: "json",
        framework: "elasticsearch",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "Elasticsearch rejects {subject} documents: limit of total fields [1000] exceeded",
            "Stop dynamic mapping explosion in the {subject} index",
        ],
        probes: &[("curl", "GET /{subject}/_mapping | jq 'paths | length'", "{n}00 mapped fields, most under attributes.*")],
        errors: &[("curl", "POST /{subject}/_doc", "illegal_argument_exception: Limit of total fields [1000] has been exceeded while adding new fields [{n}]")],
        fixes: &[("edit_file", "map attributes as flattened and set dynamic: strict in {file}", "patched {file}")],
        verdicts: &["Mapping stable at 60 fields; documents index again"],
        queries: &[
            "search cluster stops accepting docs because of too many dynamic keys",
            "schema in the lucene-based engine grows without bound",
        ],
    },
    Topic {
        key: "es-reindex-alias",
        domain: "search",
        family: "indexing",
        language: "json",
        framework: "elasticsearch",
        kit: "python",
        kind: TaskType::Refactoring,
        tasks: &[
            "Reindex {subject} with a new mapping without downtime using aliases",
            "Zero-downtime Elasticsearch reindex for the {subject} analyzer change",
        ],
        probes: &[("curl", "GET /_cat/aliases", "{subject} -> {subject}_v3")],
        errors: &[("curl", "PUT /{subject}/_mapping with the new analyzer", "illegal_argument_exception: Mapper for [title] conflicts with existing mapper")],
        fixes: &[("curl", "create {subject}_v4, POST _reindex, then swap the alias atomically", "acknowledged: true")],
        verdicts: &["Alias swapped to {subject}_v4; no failed queries during the reindex"],
        queries: &[
            "change how a field is analysed without taking search offline",
            "rebuild the search collection with new settings while serving traffic",
        ],
    },
    Topic {
        key: "es-synonyms",
        domain: "search",
        family: "relevance",
        language: "json",
        framework: "elasticsearch",
        kit: "python",
        kind: TaskType::CodeGeneration,
        tasks: &[
            "Search for 'tv' does not find 'television' {subject}: add a synonym filter",
            "Add a synonym graph token filter to the {subject} search analyzer",
        ],
        probes: &[("curl", "GET /{subject}/_analyze with text 'tv'", "tokens: [tv]")],
        errors: &[("pytest", "run the relevance judgement set", "nDCG@10 0.4{n} below the 0.6 target; 'tv' returns 0 hits")],
        fixes: &[("edit_file", "synonym_graph filter at search time with tv, television and laptop, notebook in {file}", "patched {file}")],
        verdicts: &["'tv' now finds televisions; judgement set nDCG@10 0.71"],
        queries: &[
            "users typing shorthand terms get no results, need equivalent words",
            "abbreviations don't match the full product names in results",
        ],
    },
    Topic {
        key: "es-deep-pagination",
        domain: "search",
        family: "query-performance",
        language: "json",
        framework: "elasticsearch",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "Elasticsearch queries slow past page 500: from + size deep pagination on {subject}",
            "Replace from/size paging with search_after for the {subject} export",
        ],
        probes: &[("curl", "GET /{subject}/_search?from=9990&size=10 with profile", "took: {n}412 ms")],
        errors: &[("curl", "GET /{subject}/_search?from=10000&size=50", "Result window is too large, from + size must be less than or equal to: [10000]")],
        fixes: &[("edit_file", "paginate with search_after on (created_at, id) and a point in time in {file}", "patched {file}")],
        verdicts: &["Export walks all {subject} in constant time per page"],
        queries: &[
            "browsing far into results is slow and eventually errors",
            "offset paging through hits hits a hard cap",
        ],
    },
    // ───────────────────────────── auth ─────────────────────────────
    Topic {
        key: "auth-jwt-clock-skew",
        domain: "auth",
        family: "tokens",
        language: "python",
        framework: "pyjwt",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "JWT validation fails intermittently: token used before issued (clock skew)",
            "Add leeway to JWT iat/nbf checks in the {subject} service",
        ],
        probes: &[("bash", "chronyc tracking on the API hosts", "System time: {n}.4 seconds fast of NTP time")],
        errors: &[
            ("read_file", "read the {subject} auth log", "jwt.exceptions.ImmatureSignatureError: The token is not yet valid (iat)"),
            ("pytest", "run the token test with a 3 s skew", "ImmatureSignatureError"),
        ],
        fixes: &[
            ("edit_file", "jwt.decode(..., leeway=30) in {file}", "patched {file}"),
            ("bash", "enable chrony on every host", "clock synchronised"),
        ],
        verdicts: &["No more spurious rejections; clocks synced and 30 s leeway"],
        queries: &[
            "sign-ins randomly rejected since server times drift slightly",
            "bearer credential considered from the future on some hosts",
        ],
    },
    Topic {
        key: "auth-refresh-race",
        domain: "auth",
        family: "tokens",
        language: "typescript",
        framework: "react",
        kit: "node",
        kind: TaskType::Debugging,
        tasks: &[
            "Users logged out randomly: concurrent refresh token rotation race in {subject}",
            "Serialise token refresh in the {subject} client so rotation does not revoke the session",
        ],
        probes: &[("browser", "open two tabs and wait for expiry", "both tabs POST /oauth/token with the same refresh token")],
        errors: &[("read_file", "read the auth server log", "invalid_grant: refresh token already used; revoking family {n}")],
        fixes: &[
            ("edit_file", "single-flight the refresh with a BroadcastChannel lock in {file}", "patched {file}"),
            ("edit_file", "allow a 10 s reuse window for the previous refresh token on the server", "grace window added"),
        ],
        verdicts: &["No forced logouts with multiple tabs open"],
        queries: &[
            "people get signed out when two tabs renew credentials at once",
            "rotating session renewal invalidates itself under parallel requests",
        ],
    },
    Topic {
        key: "auth-oauth-redirect",
        domain: "auth",
        family: "oauth-config",
        language: "typescript",
        framework: "nextauth",
        kit: "node",
        kind: TaskType::Debugging,
        tasks: &[
            "OAuth login fails with redirect_uri_mismatch after moving {subject} to the new domain",
            "Register the new callback URL for Google OAuth in {subject}",
        ],
        probes: &[("read_file", "read {file}", "NEXTAUTH_URL still points to the old hostname")],
        errors: &[("browser", "click Sign in with Google", "Error 400: redirect_uri_mismatch The redirect URI in the request does not match the ones authorized")],
        fixes: &[("edit_file", "set NEXTAUTH_URL to the new domain and add the callback in the Google console", "patched {file}")],
        verdicts: &["Google login works on the new domain"],
        queries: &[
            "third-party identity provider login breaks after changing hostnames",
            "callback address not whitelisted after site migration",
        ],
    },
    Topic {
        key: "auth-cors-credentials",
        domain: "auth",
        family: "browser",
        language: "typescript",
        framework: "express",
        kit: "node",
        kind: TaskType::Debugging,
        tasks: &[
            "CORS error on the {subject} login request with credentials from the SPA",
            "Allow credentialed cross-origin requests to the {subject} auth API",
        ],
        probes: &[("curl", "curl -I -X OPTIONS -H 'Origin: https://app.example.com' /{subject}", "Access-Control-Allow-Origin: *")],
        errors: &[("browser", "submit the login form", "Access to fetch at 'https://auth.example.com/{subject}' has been blocked by CORS policy: The value of the 'Access-Control-Allow-Origin' header must not be the wildcard '*' when the request's credentials mode is 'include'")],
        fixes: &[("edit_file", "echo the allowed origin and set Access-Control-Allow-Credentials: true in {file}", "patched {file}")],
        verdicts: &["Login works from the SPA with cookies"],
        queries: &[
            "browser blocks the cross-site sign-in call that sends cookies",
            "wildcard allow origin not permitted with credentials",
        ],
    },
    // ───────────────────────────── messaging ─────────────────────────────
    Topic {
        key: "kafka-consumer-lag",
        domain: "messaging",
        family: "consumer-throughput",
        language: "java",
        framework: "kafka",
        kit: "jvm",
        kind: TaskType::Analysis,
        tasks: &[
            "Kafka consumer lag keeps growing on the {subject} topic",
            "Scale the {subject} consumer group: more partitions and batch processing",
        ],
        probes: &[
            ("kafka", "kafka-consumer-groups --describe --group {subject}-processor", "LAG {n}43221 on 6 partitions, 6 consumers"),
            ("read_file", "read {file}", "one database insert per record, max.poll.records=500"),
        ],
        errors: &[("read_file", "read the lag dashboard", "lag grew from 0 to {n}00k in an hour after the campaign")],
        fixes: &[("edit_file", "batch inserts per poll and raise partitions to 24 with 24 consumers in {file}", "patched {file}")],
        verdicts: &["Lag drains in 20 minutes and stays near zero"],
        queries: &[
            "queue backlog grows faster than workers drain it",
            "event stream processors fall further and further behind",
        ],
    },
    Topic {
        key: "kafka-rebalance-storm",
        domain: "messaging",
        family: "consumer-group",
        language: "java",
        framework: "kafka",
        kit: "jvm",
        kind: TaskType::Debugging,
        tasks: &[
            "Kafka consumer group for {subject} keeps rebalancing: max.poll.interval.ms exceeded",
            "Stop rebalance storms in the {subject} consumers",
        ],
        probes: &[("read_file", "read the consumer log", "Member consumer-{n} sending LeaveGroup request due to consumer poll timeout")],
        errors: &[("read_file", "read the consumer log", "CommitFailedException: Commit cannot be completed since the group has already rebalanced and assigned the partitions to another member")],
        fixes: &[("edit_file", "max.poll.records=100, cooperative-sticky assignor and static membership in {file}", "patched {file}")],
        verdicts: &["No rebalances for a day; duplicate processing stopped"],
        queries: &[
            "workers constantly reshuffle partitions and redo messages",
            "slow handlers cause the broker to think consumers died",
        ],
    },
    Topic {
        key: "rabbit-poison-message",
        domain: "messaging",
        family: "error-handling",
        language: "python",
        framework: "rabbitmq",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "Poison message requeued forever blocks the {subject} queue",
            "Add a dead-letter exchange and retry limit to the {subject} consumer",
        ],
        probes: &[("rabbitmqctl", "rabbitmqctl list_queues name messages_unacknowledged", "{subject} 1 (redelivered {n}000 times)")],
        errors: &[("read_file", "read the consumer log", "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0); basic_nack(requeue=True)")],
        fixes: &[("edit_file", "declare x-dead-letter-exchange and reject without requeue after 3 attempts in {file}", "patched {file}")],
        verdicts: &["Bad messages land in the DLQ; the queue keeps flowing"],
        queries: &[
            "one bad item loops endlessly and stalls processing",
            "malformed job keeps coming back to the broker",
        ],
    },
    Topic {
        key: "sqs-visibility-duplicates",
        domain: "messaging",
        family: "error-handling",
        language: "python",
        framework: "sqs",
        kit: "lambda",
        kind: TaskType::Debugging,
        tasks: &[
            "SQS messages processed twice: visibility timeout shorter than processing time",
            "Raise the {subject} queue visibility timeout and extend it while working",
        ],
        probes: &[("aws", "aws sqs get-queue-attributes --attribute-names VisibilityTimeout", "VisibilityTimeout 30 (jobs take {n}0 s)")],
        errors: &[("read_file", "read the worker log", "message {n} received twice (ApproximateReceiveCount=2)")],
        fixes: &[("edit_file", "set VisibilityTimeout to 6x the p99 job time and heartbeat ChangeMessageVisibility in {file}", "patched {file}")],
        verdicts: &["Each message processed once"],
        queries: &[
            "jobs from the AWS queue run twice because they reappear before finishing",
            "long tasks become visible again to other workers mid-flight",
        ],
    },
    // ───────────────────────────── caching ─────────────────────────────
    Topic {
        key: "redis-stampede",
        domain: "caching",
        family: "expiry",
        language: "go",
        framework: "redis",
        kit: "go",
        kind: TaskType::Debugging,
        tasks: &[
            "Cache stampede: {subject} keys expire at once and the database gets hammered",
            "Add TTL jitter and singleflight to the {subject} cache",
        ],
        probes: &[("redis-cli", "redis-cli --scan --pattern '{subject}:*' | xargs TTL", "{n}000 keys with identical TTL")],
        errors: &[("read_file", "read the database CPU graph at the hour", "CPU 100% for 40 s every hour; {n}000 identical queries")],
        fixes: &[("edit_file", "TTL = base ± 10% jitter and singleflight.Group around loads in {file}", "patched {file}")],
        verdicts: &["No hourly spikes; one reload per key"],
        queries: &[
            "when cached entries lapse together the backend gets a thundering herd",
            "synchronised invalidation floods the database every hour",
        ],
    },
    Topic {
        key: "redis-maxmemory",
        domain: "caching",
        family: "memory",
        language: "go",
        framework: "redis",
        kit: "go",
        kind: TaskType::Debugging,
        tasks: &[
            "Redis OOM: maxmemory reached and {subject} writes are rejected",
            "Set an eviction policy for the {subject} Redis instance",
        ],
        probes: &[("redis-cli", "redis-cli INFO memory", "used_memory_human:3.9{n}G maxmemory_policy:noeviction")],
        errors: &[("read_file", "read the {subject} service log", "OOM command not allowed when used memory > 'maxmemory'.")],
        fixes: &[("redis-cli", "CONFIG SET maxmemory-policy allkeys-lru and add TTLs to {subject} keys", "OK")],
        verdicts: &["Redis evicts cold keys; no rejected writes"],
        queries: &[
            "key-value store refuses writes when full",
            "in-memory store at capacity with no eviction configured",
        ],
    },
    Topic {
        key: "cache-stale-invalidation",
        domain: "caching",
        family: "consistency",
        language: "python",
        framework: "redis",
        kit: "python",
        kind: TaskType::Debugging,
        tasks: &[
            "Users see stale {subject} data after updates: cache not invalidated",
            "Invalidate the {subject} cache entry on write",
        ],
        probes: &[("read_file", "read {file}", "update_{subject} writes the database but never deletes the cached key")],
        errors: &[("pytest", "run the read-after-update test", "AssertionError: expected price 19.99, got cached 24.99")],
        fixes: &[("edit_file", "delete the key after commit (cache-aside) in {file}", "patched {file}")],
        verdicts: &["Updates visible immediately"],
        queries: &[
            "edits don't show up until much later, old values served",
            "outdated entries returned after a change",
        ],
    },
    Topic {
        key: "cdn-stale-assets",
        domain: "caching",
        family: "consistency",
        language: "typescript",
        framework: "cloudfront",
        kit: "node",
        kind: TaskType::Debugging,
        tasks: &[
            "CDN serves old JavaScript after deploy: missing cache-busting hashes",
            "Add content hashes to asset names and set Cache-Control for index.html",
        ],
        probes: &[("curl", "curl -I https://cdn.example.com/app.js", "Cache-Control: max-age=31536000, Age: {n}000")],
        errors: &[("browser", "load the site after the release", "TypeError: t.{subject} is not a function (old app.js with new API)")],
        fixes: &[("edit_file", "emit [name].[contenthash].js and no-cache on index.html in {file}", "patched {file}")],
        verdicts: &["New releases show up instantly"],
        queries: &[
            "after release people still get previous frontend files from the edge",
            "edge network keeps outdated scripts",
        ],
    },
    // ───────────────────────────── cli-tools ─────────────────────────────
    Topic {
        key: "cli-dry-run-flag",
        domain: "cli-tools",
        family: "argument-parsing",
        language: "rust",
        framework: "clap",
        kit: "rust",
        kind: TaskType::CodeGeneration,
        tasks: &[
            "Add a --dry-run flag to the {subject} subcommand of the clap CLI",
            "Implement --dry-run for {subject}: print planned changes without applying them",
        ],
        probes: &[("read_file", "read {file}: the clap derive for {subject}", "#[derive(Parser)] struct {subject}Args without flags")],
        errors: &[("cargo test", "cargo test cli_{subject}", "error: unexpected argument '--dry-run' found")],
        fixes: &[("edit_file", "#[arg(long)] dry_run: bool and skip writes when set in {file}", "patched {file}")],
        verdicts: &["--dry-run prints the plan and exits 0 without changes"],
        queries: &[
            "preview mode option for our command-line tool",
            "simulate what the command would do without touching anything",
        ],
    },
    Topic {
        key: "cli-config-precedence",
        domain: "cli-tools",
        family: "configuration",
        language: "go",
        framework: "cobra",
        kit: "go",
        kind: TaskType::Debugging,
        tasks: &[
            "Cobra CLI ignores environment variables: viper binding precedence wrong",
            "Make flags override env vars override the config file in the {subject} command",
        ],
        probes: &[("read_file", "read {file}", "viper.ReadInConfig called after BindPFlags, AutomaticEnv never called")],
        errors: &[("go test", "go test ./cmd -run TestEnvOverride", "expected region eu-west-1 from APP_REGION, got us-east-1 from config.yaml")],
        fixes: &[("edit_file", "viper.SetEnvPrefix(\"APP\"), AutomaticEnv and bind flags in PersistentPreRunE in {file}", "patched {file}")],
        verdicts: &["Flag > env > file precedence documented and tested"],
        queries: &[
            "env vars don't override the settings file in the go command-line app",
            "wrong priority between shell variables and yaml configuration",
        ],
    },
    Topic {
        key: "cli-windows-paths",
        domain: "cli-tools",
        family: "portability",
        language: "rust",
        framework: "std",
        kit: "rust",
        kind: TaskType::Debugging,
        tasks: &[
            "CLI breaks on Windows: hard-coded forward slashes in {subject} paths",
            "Use PathBuf joins in the {subject} command for Windows support",
        ],
        probes: &[("grep", "grep -rn 'format!(\"{}/{}\"' src/", "{n} path concatenations")],
        errors: &[("cargo test", "cargo test on windows-latest", "Error: The system cannot find the path specified. (os error 3)")],
        fixes: &[("edit_file", "build paths with Path::join and normalise CRLF in {file}", "patched {file}")],
        verdicts: &["Tests pass on Windows, macOS and Linux"],
        queries: &[
            "tool fails on microsoft os because of path separators",
            "backslash vs slash issue in the terminal utility",
        ],
    },
    Topic {
        key: "cli-progress-pipe",
        domain: "cli-tools",
        family: "output",
        language: "rust",
        framework: "indicatif",
        kit: "rust",
        kind: TaskType::Debugging,
        tasks: &[
            "Progress bar corrupts output when stdout of {subject} is piped",
            "Send progress to stderr and hide it when not a TTY",
        ],
        probes: &[("bash", "memory {subject} | jq .", "parse error: Invalid numeric literal at line 1, column {n}")],
        errors: &[("bash", "{subject} > out.json && cat out.json", "\\r[=====>    ] 52% mixed into the JSON")],
        fixes: &[("edit_file", "ProgressBar::with_draw_target(ProgressDrawTarget::stderr()) and hide unless stderr is a terminal in {file}", "patched {file}")],
        verdicts: &["Piped output is clean JSON"],
        queries: &[
            "spinner garbage shows up in redirected output",
            "status animation breaks machine-readable results",
        ],
    },
    // ───────────────────────────── embedded ─────────────────────────────
    Topic {
        key: "emb-stack-overflow",
        domain: "embedded",
        family: "memory",
        language: "c",
        framework: "freertos",
        kit: "firmware",
        kind: TaskType::Debugging,
        tasks: &[
            "HardFault on STM32: FreeRTOS task stack overflow in the {subject} task",
            "Increase the {subject} task stack and move the buffer to static memory",
        ],
        probes: &[("gdb", "arm-none-eabi-gdb: uxTaskGetStackHighWaterMark for {subject}", "high water mark {n} words")],
        errors: &[
            ("openocd", "run until the fault", "vApplicationStackOverflowHook: task '{subject}'"),
            ("gdb", "bt after the HardFault", "HardFault_Handler () at Core/Src/stm32f4xx_it.c:{line}"),
        ],
        fixes: &[("edit_file", "stack depth 512 -> 1024 words and make the 2 KB frame buffer static in {file}", "patched {file}")],
        verdicts: &["No faults in a 24 h soak; 300 words of headroom"],
        queries: &[
            "microcontroller resets when a thread uses too much local memory",
            "rtos thread smashes its own stack and the chip faults",
        ],
    },
    Topic {
        key: "emb-i2c-timeout",
        domain: "embedded",
        family: "peripherals",
        language: "c",
        framework: "stm32-hal",
        kit: "firmware",
        kind: TaskType::Debugging,
        tasks: &[
            "I2C {subject} reads time out intermittently",
            "Recover the I2C bus when the {subject} holds SDA low",
        ],
        probes: &[("logic-analyzer", "capture SCL/SDA during a failure", "SDA stuck low after {n} transfers; rise time 2.1 us")],
        errors: &[("gdb", "break on the error path", "HAL_I2C_Master_Receive returned HAL_TIMEOUT")],
        fixes: &[("edit_file", "toggle SCL 9 times to release the bus and lower pull-ups to 2.2k in {file}", "patched {file}")],
        verdicts: &["Zero timeouts over 100k reads"],
        queries: &[
            "sensor communication on the two-wire bus sometimes stalls",
            "data line held low by the peripheral, transactions hang",
        ],
    },
    Topic {
        key: "emb-nostd-panic-handler",
        domain: "embedded",
        family: "toolchain",
        language: "rust",
        framework: "embassy",
        kit: "firmware",
        kind: TaskType::Debugging,
        tasks: &[
            "no_std {subject} firmware fails to link: missing #[panic_handler]",
            "Fix the embassy build: panic handler and memory.x for the {subject} board",
        ],
        probes: &[("read_file", "read Cargo.toml", "panic-probe not in dependencies")],
        errors: &[
            ("cargo", "cargo build --release --target thumbv7em-none-eabihf", "error: `#[panic_handler]` function required, but not found"),
            ("cargo", "cargo build", "rust-lld: error: undefined symbol: __pre_init"),
        ],
        fixes: &[("edit_file", "add panic-probe with print-defmt and use panic_probe as _ in {file}", "patched {file}")],
        verdicts: &["Firmware builds and flashes"],
        queries: &[
            "bare-metal rust image won't build, complains about panic implementation",
            "linker fails for the microcontroller target in a crate without std",
        ],
    },
    Topic {
        key: "emb-watchdog-reset",
        domain: "embedded",
        family: "reliability",
        language: "c",
        framework: "stm32-hal",
        kit: "firmware",
        kind: TaskType::Debugging,
        tasks: &[
            "Device reboots every 8 seconds: watchdog not fed during flash erase in {subject}",
            "Feed the IWDG during long {subject} flash operations",
        ],
        probes: &[("gdb", "read RCC->CSR after reset", "IWDGRSTF set")],
        errors: &[("serial", "read the UART boot log", "boot #{n}: reset cause IWDG")],
        fixes: &[("edit_file", "erase sector by sector and refresh the watchdog between sectors in {file}", "patched {file}")],
        verdicts: &["No resets during firmware updates"],
        queries: &[
            "board keeps restarting periodically while writing to storage",
            "independent timer reboots the chip during long erase",
        ],
    },
    // ───────────────────────────── game-dev ─────────────────────────────
    Topic {
        key: "unity-gc-spikes",
        domain: "game-dev",
        family: "frame-time",
        language: "csharp",
        framework: "unity",
        kit: "unity",
        kind: TaskType::Debugging,
        tasks: &[
            "Frame hitches in Unity: GC spikes from allocations in {subject} Update()",
            "Remove per-frame allocations from the {subject} controller",
        ],
        probes: &[("unity", "Profiler capture with Deep Profile", "GC.Alloc 1.{n} MB per frame in {subject}Controller.Update")],
        errors: &[("unity", "play the level for 5 minutes", "frame spikes of {n}0 ms every few seconds (GC.Collect)")],
        fixes: &[("edit_file", "cache GetComponent results, pool projectiles and avoid LINQ in Update in {file}", "patched {file}")],
        verdicts: &["0 B allocated per frame; steady 60 fps"],
        queries: &[
            "game stutters periodically, garbage collector pauses",
            "allocation churn every tick causes hiccups in the engine",
        ],
    },
    Topic {
        key: "unity-shader-stutter",
        domain: "game-dev",
        family: "frame-time",
        language: "csharp",
        framework: "unity",
        kit: "unity",
        kind: TaskType::Debugging,
        tasks: &[
            "Stutter when entering new areas: shaders compiled at first use",
            "Prewarm shader variants for the {subject} level",
        ],
        probes: &[("unity", "Profiler: Shader.CreateGPUProgram", "{n}0 ms on the first explosion")],
        errors: &[("unity", "play through the {subject} level", "hitch of {n}00 ms when the first effect appears")],
        fixes: &[("edit_file", "ShaderVariantCollection.WarmUp during the loading screen in {file}", "patched {file}")],
        verdicts: &["No hitches on first effects"],
        queries: &[
            "hitch when new effects first appear on screen",
            "gpu program creation causes a pause the first time something renders",
        ],
    },
    Topic {
        key: "unity-physics-tunneling",
        domain: "game-dev",
        family: "physics",
        language: "csharp",
        framework: "unity",
        kit: "unity",
        kind: TaskType::Debugging,
        tasks: &[
            "Fast {subject} objects pass through walls: physics tunneling",
            "Enable continuous collision detection for the {subject} rigidbody",
        ],
        probes: &[("unity", "step the physics frame by frame", "{subject} moves {n} units per step, wall is 0.2 thick")],
        errors: &[("unity", "run the collision play-mode test", "Expected OnCollisionEnter, got none: {subject} ended behind the wall")],
        fixes: &[("edit_file", "collisionDetectionMode = ContinuousDynamic and interpolate in {file}", "patched {file}")],
        verdicts: &["Collisions register at any speed"],
        queries: &[
            "bullets go through thin colliders at high speed",
            "quick moving bodies skip past obstacles between ticks",
        ],
    },
    Topic {
        key: "game-netcode-desync",
        domain: "game-dev",
        family: "multiplayer",
        language: "csharp",
        framework: "unity",
        kit: "unity",
        kind: TaskType::Debugging,
        tasks: &[
            "Multiplayer clients desync: non-deterministic lockstep simulation of {subject}",
            "Make the {subject} simulation deterministic with fixed-point math",
        ],
        probes: &[("unity", "compare state checksums per tick between two clients", "first divergence at tick {n}")],
        errors: &[("unity", "run the lockstep replay test", "checksum mismatch at tick {n}: float rounding in {subject} movement")],
        fixes: &[("edit_file", "replace float math with fixed-point and a seeded RNG in {file}", "patched {file}")],
        verdicts: &["Clients stay in sync for a full hour"],
        queries: &[
            "players see different game states over time in online matches",
            "peers' simulations drift apart",
        ],
    },
    // ───────────────────────────── docs ─────────────────────────────
    Topic {
        key: "docs-broken-links",
        domain: "docs",
        family: "site-build",
        language: "markdown",
        framework: "mkdocs",
        kit: "docs",
        kind: TaskType::Documentation,
        tasks: &[
            "Docs build fails on broken internal links after restructuring the {subject} pages",
            "Fix dangling anchors in docs/{subject}.md for mkdocs --strict",
        ],
        probes: &[("grep", "grep -rn '](setup.md' docs/", "{n} links to the old file")],
        errors: &[("mkdocs", "mkdocs build --strict", "WARNING - Doc file '{subject}.md' contains a link 'setup.md#install', but the target is not found among documentation files. Aborted with 1 warnings in strict mode!")],
        fixes: &[("edit_file", "update the links and add redirects for moved pages in {file}", "patched {file}")],
        verdicts: &["Strict build passes; redirects keep old URLs working"],
        queries: &[
            "documentation site generator complains about dangling references after moving pages",
            "manual has dead cross-references since the reorganisation",
        ],
    },
    Topic {
        key: "docs-sphinx-autodoc",
        domain: "docs",
        family: "site-build",
        language: "python",
        framework: "sphinx",
        kit: "docs",
        kind: TaskType::Documentation,
        tasks: &[
            "Sphinx autodoc fails to import the {subject} module",
            "Mock heavy imports so Sphinx can document {subject}",
        ],
        probes: &[("read_file", "read docs/conf.py", "sys.path does not include src/; torch imported at module level")],
        errors: &[("sphinx-build", "sphinx-build -W docs docs/_build", "WARNING: autodoc: failed to import module '{subject}'; the following exception was raised: No module named 'torch'")],
        fixes: &[("edit_file", "autodoc_mock_imports = ['torch'] and sys.path.insert(0, 'src') in {file}", "patched {file}")],
        verdicts: &["API pages generated for every module"],
        queries: &[
            "python reference pages come out empty because modules can't load during doc generation",
            "generated api reference missing, import errors at build time",
        ],
    },
    Topic {
        key: "docs-openapi-drift",
        domain: "docs",
        family: "api-docs",
        language: "yaml",
        framework: "openapi",
        kit: "docs",
        kind: TaskType::Documentation,
        tasks: &[
            "API reference out of date: generate the {subject} docs from the OpenAPI spec in CI",
            "Validate that openapi.yaml matches the implemented {subject} endpoints",
        ],
        probes: &[("bash", "diff the routes against openapi.yaml", "{n} endpoints undocumented")],
        errors: &[("bash", "schemathesis run openapi.yaml", "FAILED: response for GET /{subject} does not conform to the schema")],
        fixes: &[("edit_file", "generate the spec from code annotations and render with Redoc in CI ({file})", "patched {file}")],
        verdicts: &["Reference regenerated on every merge; contract test in CI"],
        queries: &[
            "endpoint documentation drifts from the real service",
            "swagger description no longer matches what the server returns",
        ],
    },
    // ───────────────────────────── serverless ─────────────────────────────
    Topic {
        key: "lambda-cold-start",
        domain: "serverless",
        family: "latency",
        language: "python",
        framework: "aws-lambda",
        kit: "lambda",
        kind: TaskType::Analysis,
        tasks: &[
            "Lambda cold starts add 3 s to the {subject} API",
            "Reduce {subject} Lambda init time: smaller package, lazy imports, provisioned concurrency",
        ],
        probes: &[("aws", "CloudWatch Logs Insights: filter @type = 'REPORT' | stats avg(@initDuration)", "Init Duration: 2{n}0 ms")],
        errors: &[("read_file", "read the X-Ray trace of the first request", "Initialization 3.{n} s before the handler ran")],
        fixes: &[("edit_file", "import pandas lazily and set provisioned concurrency 5 in {file}", "patched {file}")],
        verdicts: &["Init under 400 ms; p99 of the API 600 ms"],
        queries: &[
            "first request after idle is very slow on our functions-as-a-service backend",
            "initialisation delay on fresh function instances",
        ],
    },
    Topic {
        key: "lambda-rds-connections",
        domain: "serverless",
        family: "connections",
        language: "python",
        framework: "aws-lambda",
        kit: "lambda",
        kind: TaskType::Debugging,
        tasks: &[
            "Lambda functions exhaust RDS connections under load: too many connections",
            "Put RDS Proxy in front of Postgres for the {subject} Lambda",
        ],
        probes: &[("aws", "CloudWatch DatabaseConnections for the RDS instance", "{n}00 connections at peak concurrency")],
        errors: &[("read_file", "read the function log", "psycopg2.OperationalError: FATAL: remaining connection slots are reserved for non-replication superuser connections")],
        fixes: &[("edit_file", "connect through RDS Proxy and open the connection outside the handler in {file}", "patched {file}")],
        verdicts: &["Connections stay under 100 with 1,000 concurrent invocations"],
        queries: &[
            "each function invocation opens its own database session and we hit the cap",
            "burst of serverless executions overwhelms the managed db",
        ],
    },
    Topic {
        key: "lambda-package-size",
        domain: "serverless",
        family: "packaging",
        language: "python",
        framework: "aws-lambda",
        kit: "lambda",
        kind: TaskType::Refactoring,
        tasks: &[
            "Deployment fails: unzipped Lambda package for {subject} exceeds 250 MB",
            "Move the {subject} Lambda to a container image or a layer",
        ],
        probes: &[("bash", "du -sh .aws-sam/build/*", "{n}0M numpy, scipy, pandas")],
        errors: &[("sam", "sam deploy", "Unzipped size must be smaller than 262144000 bytes")],
        fixes: &[("edit_file", "package as a container image with PackageType: Image in {file}", "patched {file}")],
        verdicts: &["Deploys as a 600 MB image"],
        queries: &[
            "function bundle too large to upload",
            "artifact size cap hit when shipping scientific python libs",
        ],
    },
    // ───────────────────────────── data-pipeline ─────────────────────────────
    Topic {
        key: "airflow-backfill-overload",
        domain: "data-pipeline",
        family: "scheduling",
        language: "python",
        framework: "airflow",
        kit: "spark",
        kind: TaskType::Debugging,
        tasks: &[
            "Airflow DAG backfill runs all dates at once and overloads the warehouse",
            "Limit concurrent runs of the {subject} DAG and disable catchup",
        ],
        probes: &[("airflow", "airflow dags list-runs -d {subject}_daily --state running", "{n} running dag runs")],
        errors: &[("read_file", "read the warehouse query log", "Query queued: warehouse at max concurrency ({n} queries)")],
        fixes: &[("edit_file", "catchup=False, max_active_runs=2 and a pool for warehouse tasks in {file}", "patched {file}")],
        verdicts: &["Backfill ran two days at a time over a weekend"],
        queries: &[
            "historical reprocessing launches every day concurrently",
            "rerunning past dates swamps the analytics database",
        ],
    },
    Topic {
        key: "spark-skew",
        domain: "data-pipeline",
        family: "performance",
        language: "python",
        framework: "pyspark",
        kit: "spark",
        kind: TaskType::Analysis,
        tasks: &[
            "Spark job stuck on the last task: skewed join key in {subject}",
            "Salt the {subject} join key and enable adaptive query execution",
        ],
        probes: &[("spark-ui", "stage detail of the join", "max task input {n} GB vs median 40 MB")],
        errors: &[("spark-submit", "run the {subject} job", "stage 7: 199/200 tasks done, last task running for 2 hours")],
        fixes: &[("edit_file", "spark.sql.adaptive.skewJoin.enabled=true and salt the null customer key in {file}", "patched {file}")],
        verdicts: &["Job finishes in 14 minutes instead of 3 hours"],
        queries: &[
            "one executor gets most rows and the stage never finishes",
            "unbalanced partitions, a single straggler holds up the batch",
        ],
    },
    Topic {
        key: "spark-executor-oom",
        domain: "data-pipeline",
        family: "memory",
        language: "python",
        framework: "pyspark",
        kit: "spark",
        kind: TaskType::Debugging,
        tasks: &[
            "Spark executors lost on {subject}: container killed by YARN for exceeding memory limits",
            "Tune executor memory overhead for the {subject} job",
        ],
        probes: &[("spark-ui", "executors tab", "{n} executors lost, each at 10 GB")],
        errors: &[("spark-submit", "run the {subject} job", "ExecutorLostFailure: Container killed by YARN for exceeding memory limits. 10.4 GB of 10 GB physical memory used. Consider boosting spark.executor.memoryOverhead.")],
        fixes: &[("edit_file", "spark.executor.memoryOverhead=3g and repartition before the UDF in {file}", "patched {file}")],
        verdicts: &["No lost executors; the job completes"],
        queries: &[
            "cluster manager terminates workers for going over their RAM quota",
            "python udf memory blows past the worker allowance",
        ],
    },
    Topic {
        key: "pipeline-schema-drift",
        domain: "data-pipeline",
        family: "data-quality",
        language: "python",
        framework: "pandas",
        kit: "spark",
        kind: TaskType::Debugging,
        tasks: &[
            "Pipeline fails when the upstream {subject} CSV adds a column",
            "Validate the {subject} input schema with pandera before loading",
        ],
        probes: &[("python", "read the header of today's file", "{n} columns; new column 'channel' inserted at position 3")],
        errors: &[
            ("python", "python jobs/{subject}_daily.py", "KeyError: 'customer_id'"),
            ("python", "load into the warehouse", "pyarrow.lib.ArrowInvalid: CSV parse error: Expected 11 columns, got 12"),
        ],
        fixes: &[("edit_file", "select columns by name and validate with a pandera schema in {file}", "patched {file}")],
        verdicts: &["Extra columns are ignored; missing ones fail loudly with a clear message"],
        queries: &[
            "ingest job breaks when the vendor file format changes",
            "supplier added a field to the export and the load crashed",
        ],
    },
    Topic {
        key: "pipeline-duplicate-rows",
        domain: "data-pipeline",
        family: "data-quality",
        language: "sql",
        framework: "dbt",
        kit: "spark",
        kind: TaskType::Debugging,
        tasks: &[
            "Duplicate rows in the {subject} table after job retries",
            "Make the {subject} load idempotent with MERGE on the natural key",
        ],
        probes: &[("psql", "SELECT id, count(*) FROM {subject} GROUP BY id HAVING count(*) > 1", "{n} duplicated ids")],
        errors: &[("dbt", "dbt test -s {subject}", "Failure in test unique_{subject}_id: Got {n} results, configured to fail if != 0")],
        fixes: &[("edit_file", "incremental model with unique_key and merge strategy in {file}", "patched {file}")],
        verdicts: &["Retries no longer duplicate rows; uniqueness test green"],
        queries: &[
            "reruns produce repeated records downstream",
            "same entries land in the warehouse table more than once",
        ],
    },
    // ───────────────────────────── networking ─────────────────────────────
    Topic {
        key: "nginx-502-keepalive",
        domain: "networking",
        family: "proxy",
        language: "nginx",
        framework: "nginx",
        kit: "nginx",
        kind: TaskType::Debugging,
        tasks: &[
            "Nginx returns 502 Bad Gateway intermittently for {subject}",
            "Align nginx upstream keepalive with the {subject} backend timeout",
        ],
        probes: &[("read_file", "read {file}", "keepalive 32; backend keep-alive timeout 5 s, nginx 60 s")],
        errors: &[("read_file", "read /var/log/nginx/error.log", "upstream prematurely closed connection while reading response header from upstream, client: 10.0.{n}.4")],
        fixes: &[("edit_file", "keepalive_timeout 4s in the upstream block and retry idempotent requests in {file}", "patched {file}")],
        verdicts: &["502 rate from 0.3% to zero"],
        queries: &[
            "reverse proxy gives bad gateway now and then",
            "front server closes reused sockets the app already dropped",
        ],
    },
    Topic {
        key: "nginx-413-upload",
        domain: "networking",
        family: "proxy",
        language: "nginx",
        framework: "nginx",
        kit: "nginx",
        kind: TaskType::Debugging,
        tasks: &[
            "Uploads over 1 MB to {subject} fail with 413 Request Entity Too Large",
            "Raise client_max_body_size for the {subject} location",
        ],
        probes: &[("curl", "curl -F file=@big.zip /{subject}", "HTTP/1.1 413 Request Entity Too Large")],
        errors: &[("read_file", "read the nginx error log", "client intended to send too large body: {n}000000 bytes")],
        fixes: &[("edit_file", "client_max_body_size 100m in the {subject} location in {file}", "patched {file}")],
        verdicts: &["100 MB uploads succeed"],
        queries: &[
            "big file submissions rejected by the front proxy",
            "payload limit in the web server blocks attachments",
        ],
    },
    Topic {
        key: "k8s-dns-ndots",
        domain: "networking",
        family: "dns",
        language: "yaml",
        framework: "coredns",
        kit: "k8s",
        kind: TaskType::Debugging,
        tasks: &[
            "Intermittent DNS resolution failures inside containers (ndots:5)",
            "Reduce DNS lookups for {subject} with ndots:2 and a trailing dot",
        ],
        probes: &[("kubectl", "kubectl exec deploy/{subject} -- cat /etc/resolv.conf", "options ndots:5, 4 search domains")],
        errors: &[("read_file", "read the {subject} log", "getaddrinfo EAI_AGAIN api.partner.com")],
        fixes: &[("edit_file", "dnsConfig options ndots: 2 and NodeLocal DNSCache in {file}", "patched {file}")],
        verdicts: &["Lookup errors gone; DNS latency p99 from 5 s to 4 ms"],
        queries: &[
            "hostname lookups sometimes fail in pods",
            "name resolution slow because of search domain expansion",
        ],
    },
    // ───────────────────────────── desktop ─────────────────────────────
    Topic {
        key: "electron-notarization",
        domain: "desktop",
        family: "distribution",
        language: "typescript",
        framework: "electron",
        kit: "electron",
        kind: TaskType::Debugging,
        tasks: &[
            "Electron auto-update fails on macOS: the app is not notarized",
            "Sign and notarize the Electron build so the updater installs",
        ],
        probes: &[("bash", "spctl -a -vv Editor.app", "rejected source=Unnotarized Developer ID")],
        errors: &[("read_file", "read the updater log", "Error: Could not get code signature for running application")],
        fixes: &[("edit_file", "afterSign hook with @electron/notarize and hardenedRuntime: true in {file}", "patched {file}")],
        verdicts: &["Updates install silently on macOS"],
        queries: &[
            "desktop app can't update itself on mac because of gatekeeper",
            "apple requires stapled ticket for our installer",
        ],
    },
    Topic {
        key: "electron-sync-ipc",
        domain: "desktop",
        family: "responsiveness",
        language: "typescript",
        framework: "electron",
        kit: "electron",
        kind: TaskType::Debugging,
        tasks: &[
            "Electron window freezes: synchronous IPC call blocks the renderer in {subject}",
            "Replace ipcRenderer.sendSync in {subject} with invoke/handle",
        ],
        probes: &[("grep", "grep -rn sendSync src/", "{n} calls, one per keystroke in {file}")],
        errors: &[("browser", "DevTools performance trace", "renderer blocked {n}00 ms waiting on main")],
        fixes: &[("edit_file", "ipcRenderer.invoke with ipcMain.handle and move file access to a worker in {file}", "patched {file}")],
        verdicts: &["UI stays responsive during saves"],
        queries: &[
            "desktop ui locks up while the main process does work",
            "blocking message between processes hangs the window",
        ],
    },
];
