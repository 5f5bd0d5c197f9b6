//! Seeded generators of realistic agent workloads: episodes, steps, outcomes and queries.
//!
//! Benchmarks are only as honest as their data. An episode made of `"task 17"` and one tool
//! name indexes, ranks and compresses nothing like what agents really record, so the figures
//! it produces say little. [`WorkloadGen`] draws from several domains (a Rust web API, a
//! pandas pipeline, Terraform, React, PyTorch, Android, a Go CLI), each with its own task
//! templates, tools, files and error messages, and fills in the variable parts (endpoint,
//! table, component, file path, line numbers) from a seeded PRNG. The same seed always yields
//! the same workload, so two benchmark runs measure the same work, and nothing here depends
//! on a `rand` crate whose streams could change between versions.

use chrono::{DateTime, Duration, Utc};
use memory_core::learning::{compute_reward, reflect};
use memory_core::{
    Complexity, Episode, NewEpisode, RetrievalQuery, StepInput, StepResult, TaskContext,
    TaskOutcome, TaskType, to_micros,
};
use serde_json::{Map, json};
use uuid::Uuid;

use crate::rng::Rng;

/// The namespace every generated query targets.
pub const BENCH_NAMESPACE: &str = "bench";

/// A tool an agent calls, with what it is typically asked to do and what it answers.
struct Tool {
    name: &'static str,
    /// Action templates (see [`Vars::fill`] for placeholders).
    actions: &'static [&'static str],
    /// Output templates for a successful call.
    outputs: &'static [&'static str],
    /// Typical latency range in milliseconds.
    latency_ms: (u64, u64),
    /// Whether the tool can run long enough to time out (builds, tests, deploys).
    can_time_out: bool,
}

/// A task an agent is given, and how another agent would ask about a similar one.
struct Task {
    kind: TaskType,
    text: &'static str,
    query: &'static str,
}

/// One problem area with its vocabulary.
struct Domain {
    name: &'static str,
    language: &'static str,
    framework: &'static str,
    /// The variable part of tasks: endpoints, tables, components, resources.
    subjects: &'static [&'static str],
    /// File path templates (may contain `{subject}`).
    files: &'static [&'static str],
    tools: &'static [Tool],
    /// Error message templates.
    errors: &'static [&'static str],
    tasks: &'static [Task],
    /// Context tags.
    tags: &'static [&'static str],
}

const READ_FILE: Tool = Tool {
    name: "read_file",
    actions: &[
        "read {file} to understand the current {subject} code",
        "open {file} around line {line}",
        "look at {file} for how {subject} is wired",
    ],
    outputs: &["{n} lines read from {file}", "read {file} ({n} lines)"],
    latency_ms: (5, 60),
    can_time_out: false,
};

const EDIT_FILE: Tool = Tool {
    name: "edit_file",
    actions: &[
        "edit {file} to handle {subject} correctly",
        "apply the fix in {file} at line {line}",
        "update {file}: rename and extract the {subject} logic",
    ],
    outputs: &[
        "patched {file}: +{n} -{line} lines",
        "{file} updated ({n} lines changed)",
    ],
    latency_ms: (20, 400),
    can_time_out: false,
};

const GREP: Tool = Tool {
    name: "grep",
    actions: &[
        "search the repository for uses of {subject}",
        "grep for the failing symbol near {file}",
    ],
    outputs: &[
        "{n} matches in {line} files",
        "found {n} references, first in {file}",
    ],
    latency_ms: (10, 300),
    can_time_out: false,
};

const DOMAINS: &[Domain] = &[
    Domain {
        name: "web-api",
        language: "rust",
        framework: "axum",
        subjects: &[
            "users", "orders", "invoices", "sessions", "payments", "webhooks", "search", "auth",
        ],
        files: &[
            "src/routes/{subject}.rs",
            "src/main.rs",
            "src/db.rs",
            "tests/api_{subject}.rs",
            "src/error.rs",
        ],
        tools: &[
            READ_FILE,
            EDIT_FILE,
            GREP,
            Tool {
                name: "cargo check",
                actions: &["type-check the workspace after the {subject} change"],
                outputs: &["Finished dev profile in {n}.{line}s"],
                latency_ms: (800, 9_000),
                can_time_out: false,
            },
            Tool {
                name: "cargo test",
                actions: &[
                    "run the {subject} integration tests",
                    "run the full test suite",
                ],
                outputs: &["test result: ok. {n} passed; 0 failed; 0 ignored"],
                latency_ms: (2_000, 45_000),
                can_time_out: true,
            },
            Tool {
                name: "cargo clippy",
                actions: &["lint the crate with -D warnings"],
                outputs: &["no warnings"],
                latency_ms: (1_500, 12_000),
                can_time_out: false,
            },
            Tool {
                name: "http_request",
                actions: &[
                    "curl GET /{subject} against the local server",
                    "POST a sample body to /{subject}",
                ],
                outputs: &["HTTP/1.1 200 OK ({n} bytes)", "HTTP/1.1 201 Created"],
                latency_ms: (3, 250),
                can_time_out: true,
            },
        ],
        errors: &[
            "error[E0308]: mismatched types: expected `Json<{subject}Response>`, found `String` at src/routes/{subject}.rs:{line}",
            "error[E0382]: borrow of moved value: `state` at src/main.rs:{line}",
            "test api_{subject}::returns_404_for_unknown_id ... FAILED: assertion `left == right` failed (left: 500, right: 404)",
            "error: connection refused (os error 111) while connecting to postgres at 127.0.0.1:5432",
            "HTTP/1.1 422 Unprocessable Entity: Failed to deserialize the JSON body: missing field `{subject}_id` at line 1 column {n}",
        ],
        tasks: &[
            Task {
                kind: TaskType::CodeGeneration,
                text: "Add a paginated GET /{subject} endpoint to the axum service, with limit/offset query validation",
                query: "paginated list endpoint for {subject} in an axum API",
            },
            Task {
                kind: TaskType::Debugging,
                text: "Fix the 500 error returned by POST /{subject} when the JSON body is missing a field",
                query: "POST /{subject} returns 500 instead of 422 on a bad body",
            },
            Task {
                kind: TaskType::Testing,
                text: "Write integration tests for the /{subject} handlers using tower::ServiceExt::oneshot",
                query: "integration tests for axum {subject} handlers",
            },
            Task {
                kind: TaskType::Refactoring,
                text: "Move the {subject} handlers into their own module and share the AppState extractor",
                query: "split {subject} routes into a separate module with shared state",
            },
            Task {
                kind: TaskType::Analysis,
                text: "Find out why p99 latency of GET /{subject} doubled after the last deploy",
                query: "latency regression on the {subject} endpoint after deploy",
            },
        ],
        tags: &["backend", "http", "async"],
    },
    Domain {
        name: "data-pipeline",
        language: "python",
        framework: "pandas",
        subjects: &[
            "orders",
            "customers",
            "events",
            "clickstream",
            "inventory",
            "refunds",
        ],
        files: &[
            "pipelines/{subject}_etl.py",
            "tests/test_{subject}_etl.py",
            "dags/daily_{subject}.py",
            "sql/{subject}.sql",
        ],
        tools: &[
            READ_FILE,
            EDIT_FILE,
            GREP,
            Tool {
                name: "pytest",
                actions: &[
                    "run tests/test_{subject}_etl.py",
                    "run the pipeline test suite",
                ],
                outputs: &["{n} passed in {line}.2s"],
                latency_ms: (1_000, 30_000),
                can_time_out: true,
            },
            Tool {
                name: "python",
                actions: &[
                    "run the {subject} job on a one-day sample",
                    "profile the merge step of the {subject} job",
                ],
                outputs: &[
                    "wrote {n} rows to warehouse.{subject}_daily",
                    "merge took {line}.4s for {n} rows",
                ],
                latency_ms: (2_000, 90_000),
                can_time_out: true,
            },
            Tool {
                name: "sql_query",
                actions: &["count duplicate {subject} rows in the warehouse"],
                outputs: &["{n} rows"],
                latency_ms: (50, 8_000),
                can_time_out: true,
            },
        ],
        errors: &[
            "KeyError: '{subject}_id'",
            "ValueError: cannot convert float NaN to integer in column amount",
            "pandas.errors.MergeError: Merge keys are not unique in right dataset; not a one-to-one merge",
            "MemoryError: Unable to allocate 3.{line} GiB for an array with shape ({n}000, 48) and data type float64",
            "AssertionError: expected {n} rows for {subject}, got {line}",
        ],
        tasks: &[
            Task {
                kind: TaskType::Debugging,
                text: "The daily {subject} job fails with a KeyError after the upstream schema change; fix it",
                query: "{subject} ETL breaks with KeyError after schema change",
            },
            Task {
                kind: TaskType::CodeGeneration,
                text: "Add deduplication of {subject} by id and updated_at to the pandas pipeline",
                query: "deduplicate {subject} rows in pandas keeping the latest",
            },
            Task {
                kind: TaskType::Refactoring,
                text: "Replace the row-wise apply in the {subject} transform with vectorised pandas operations",
                query: "speed up slow apply in {subject} transform by vectorising",
            },
            Task {
                kind: TaskType::Testing,
                text: "Add pytest fixtures and edge-case tests (empty frame, NaN amounts) for the {subject} ETL",
                query: "tests for NaN and empty input in the {subject} pipeline",
            },
            Task {
                kind: TaskType::Analysis,
                text: "Explain why the {subject} row count in the warehouse dropped by a third yesterday",
                query: "missing {subject} rows in warehouse after nightly run",
            },
        ],
        tags: &["etl", "batch", "warehouse"],
    },
    Domain {
        name: "infra",
        language: "hcl",
        framework: "terraform",
        subjects: &[
            "vpc",
            "rds-primary",
            "eks-cluster",
            "s3-logs",
            "iam-ci-role",
            "cloudfront",
        ],
        files: &[
            "modules/{subject}/main.tf",
            "modules/{subject}/variables.tf",
            "envs/prod/{subject}.tf",
            "envs/staging/backend.tf",
        ],
        tools: &[
            READ_FILE,
            EDIT_FILE,
            GREP,
            Tool {
                name: "terraform plan",
                actions: &[
                    "plan the staging environment",
                    "plan only the {subject} module with -target",
                ],
                outputs: &["Plan: {line} to add, {n} to change, 0 to destroy."],
                latency_ms: (5_000, 60_000),
                can_time_out: true,
            },
            Tool {
                name: "terraform apply",
                actions: &["apply the reviewed plan for {subject} in staging"],
                outputs: &["Apply complete! Resources: {line} added, {n} changed, 0 destroyed."],
                latency_ms: (20_000, 300_000),
                can_time_out: true,
            },
            Tool {
                name: "terraform validate",
                actions: &["validate the configuration"],
                outputs: &["Success! The configuration is valid."],
                latency_ms: (500, 4_000),
                can_time_out: false,
            },
            Tool {
                name: "tflint",
                actions: &["lint modules/{subject}"],
                outputs: &["{n} issue(s) found"],
                latency_ms: (400, 5_000),
                can_time_out: false,
            },
        ],
        errors: &[
            "Error: creating {subject}: AccessDenied: User is not authorized to perform: iam:PassRole",
            "Error: Reference to undeclared input variable on modules/{subject}/main.tf line {line}",
            "Error: Error acquiring the state lock: ConditionalCheckFailedException: The conditional request failed",
            "Error: Provider produced inconsistent final plan for {subject}",
            "Error: InvalidParameterCombination: Cannot upgrade postgres from 13.{line} to 16.{n}",
        ],
        tasks: &[
            Task {
                kind: TaskType::CodeGeneration,
                text: "Write a Terraform module for {subject} with tags and outputs, and use it in staging",
                query: "terraform module for {subject} with outputs",
            },
            Task {
                kind: TaskType::Debugging,
                text: "terraform apply for {subject} fails with AccessDenied on iam:PassRole; fix the CI role",
                query: "AccessDenied PassRole when applying {subject}",
            },
            Task {
                kind: TaskType::Refactoring,
                text: "Move {subject} from the root module into modules/{subject} without recreating resources",
                query: "moved blocks to refactor {subject} into a module without destroy",
            },
            Task {
                kind: TaskType::Analysis,
                text: "Review the plan for {subject}: why does it want to replace the resource?",
                query: "terraform plan forces replacement of {subject}",
            },
        ],
        tags: &["aws", "iac", "ci"],
    },
    Domain {
        name: "frontend",
        language: "typescript",
        framework: "react",
        subjects: &[
            "LoginForm",
            "CheckoutPage",
            "UserMenu",
            "DataTable",
            "SearchBar",
            "SettingsPanel",
        ],
        files: &[
            "src/components/{subject}.tsx",
            "src/components/{subject}.test.tsx",
            "src/hooks/useApi.ts",
            "src/store/slice.ts",
        ],
        tools: &[
            READ_FILE,
            EDIT_FILE,
            GREP,
            Tool {
                name: "npm test",
                actions: &[
                    "run the {subject} tests with vitest",
                    "run the UI test suite",
                ],
                outputs: &["Tests  {n} passed ({n})"],
                latency_ms: (1_500, 25_000),
                can_time_out: true,
            },
            Tool {
                name: "tsc",
                actions: &["type-check the project with --noEmit"],
                outputs: &["no errors"],
                latency_ms: (2_000, 15_000),
                can_time_out: false,
            },
            Tool {
                name: "eslint",
                actions: &["lint src/components"],
                outputs: &["{n} problems (0 errors, {n} warnings)"],
                latency_ms: (800, 6_000),
                can_time_out: false,
            },
            Tool {
                name: "browser_screenshot",
                actions: &["screenshot {subject} at 375px width"],
                outputs: &["screenshot saved ({n} KB)"],
                latency_ms: (1_000, 8_000),
                can_time_out: true,
            },
        ],
        errors: &[
            "TS2322: Type 'string | undefined' is not assignable to type 'string'. src/components/{subject}.tsx({line},12)",
            "Warning: Each child in a list should have a unique \"key\" prop. Check the render method of `{subject}`.",
            "TypeError: Cannot read properties of undefined (reading 'map') at {subject} (src/components/{subject}.tsx:{line})",
            "expect(received).toHaveTextContent(\"Submit\") Received: \"Loading...\" at src/components/{subject}.test.tsx:{line}",
            "Error: Too many re-renders. React limits the number of renders to prevent an infinite loop.",
        ],
        tasks: &[
            Task {
                kind: TaskType::CodeGeneration,
                text: "Build the {subject} component with loading and error states, using the useApi hook",
                query: "react {subject} component with loading and error state",
            },
            Task {
                kind: TaskType::Debugging,
                text: "{subject} crashes with 'Cannot read properties of undefined (reading map)' on first render",
                query: "{subject} crashes reading map of undefined before data loads",
            },
            Task {
                kind: TaskType::Testing,
                text: "Add React Testing Library tests for {subject}: submit, validation errors, disabled state",
                query: "testing library tests for the {subject} form",
            },
            Task {
                kind: TaskType::Refactoring,
                text: "Convert {subject} from a class component to hooks and remove the legacy context",
                query: "migrate {subject} class component to hooks",
            },
            Task {
                kind: TaskType::Documentation,
                text: "Document the props of {subject} with examples in Storybook",
                query: "storybook docs for {subject} props",
            },
        ],
        tags: &["ui", "spa", "accessibility"],
    },
    Domain {
        name: "ml",
        language: "python",
        framework: "pytorch",
        subjects: &[
            "resnet50",
            "bert-base",
            "unet",
            "lstm-forecaster",
            "vit-small",
        ],
        files: &[
            "train.py",
            "models/{subject}.py",
            "data/loader.py",
            "configs/{subject}.yaml",
        ],
        tools: &[
            READ_FILE,
            EDIT_FILE,
            GREP,
            Tool {
                name: "python",
                actions: &[
                    "run one training epoch of {subject} on the small split",
                    "evaluate the {subject} checkpoint on the validation set",
                ],
                outputs: &[
                    "epoch 1: loss 0.{n} val_acc 0.{line}",
                    "val_acc 0.{line}, f1 0.{n}",
                ],
                latency_ms: (10_000, 600_000),
                can_time_out: true,
            },
            Tool {
                name: "pytest",
                actions: &["run the model shape tests"],
                outputs: &["{n} passed"],
                latency_ms: (3_000, 40_000),
                can_time_out: true,
            },
            Tool {
                name: "nvidia-smi",
                actions: &["check GPU memory while {subject} trains"],
                outputs: &["{n}MiB / 24576MiB used"],
                latency_ms: (50, 400),
                can_time_out: false,
            },
        ],
        errors: &[
            "RuntimeError: CUDA out of memory. Tried to allocate 2.{line} GiB (GPU 0; 23.65 GiB total capacity)",
            "RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x{n} and 512x10)",
            "ValueError: Expected input batch_size (32) to match target batch_size (16)",
            "loss is nan at step {n}; last lr 3e-4",
            "FileNotFoundError: [Errno 2] No such file or directory: 'checkpoints/{subject}/epoch_{line}.pt'",
        ],
        tasks: &[
            Task {
                kind: TaskType::Debugging,
                text: "Training {subject} runs out of CUDA memory at batch size 64; make it fit on one 24 GB GPU",
                query: "CUDA out of memory when training {subject}",
            },
            Task {
                kind: TaskType::Debugging,
                text: "The {subject} loss becomes NaN after a few hundred steps; find and fix the cause",
                query: "NaN loss during {subject} training",
            },
            Task {
                kind: TaskType::CodeGeneration,
                text: "Add mixed-precision training and gradient accumulation to the {subject} training loop",
                query: "mixed precision and gradient accumulation for {subject}",
            },
            Task {
                kind: TaskType::Analysis,
                text: "Compare the {subject} checkpoints from the last two runs and explain the accuracy drop",
                query: "why did {subject} validation accuracy drop between runs",
            },
        ],
        tags: &["gpu", "training", "experiment"],
    },
    Domain {
        name: "mobile",
        language: "kotlin",
        framework: "android",
        subjects: &[
            "LoginActivity",
            "FeedFragment",
            "SyncWorker",
            "ProfileViewModel",
            "PushService",
        ],
        files: &[
            "app/src/main/java/com/example/app/{subject}.kt",
            "app/src/test/java/com/example/app/{subject}Test.kt",
            "app/build.gradle.kts",
            "app/src/main/AndroidManifest.xml",
        ],
        tools: &[
            READ_FILE,
            EDIT_FILE,
            GREP,
            Tool {
                name: "gradle assembleDebug",
                actions: &["build the debug APK"],
                outputs: &["BUILD SUCCESSFUL in {n}s"],
                latency_ms: (15_000, 240_000),
                can_time_out: true,
            },
            Tool {
                name: "gradle test",
                actions: &["run the unit tests for {subject}"],
                outputs: &["BUILD SUCCESSFUL in {n}s, {line} tests completed"],
                latency_ms: (10_000, 180_000),
                can_time_out: true,
            },
            Tool {
                name: "adb logcat",
                actions: &["capture the crash log while opening {subject}"],
                outputs: &["{n} lines captured"],
                latency_ms: (500, 20_000),
                can_time_out: true,
            },
        ],
        errors: &[
            "e: app/src/main/java/com/example/app/{subject}.kt:{line}: Unresolved reference: viewModelScope",
            "java.lang.NullPointerException: Attempt to invoke virtual method on a null object reference at com.example.app.{subject}.onCreate({subject}.kt:{line})",
            "Execution failed for task ':app:mergeDebugResources'. Android resource compilation failed",
            "android.os.NetworkOnMainThreadException at com.example.app.{subject}.load({subject}.kt:{line})",
        ],
        tasks: &[
            Task {
                kind: TaskType::Debugging,
                text: "{subject} crashes with NetworkOnMainThreadException on older devices; move the call off the main thread",
                query: "{subject} NetworkOnMainThreadException crash",
            },
            Task {
                kind: TaskType::Refactoring,
                text: "Migrate {subject} from AsyncTask to coroutines in viewModelScope",
                query: "replace AsyncTask with coroutines in {subject}",
            },
            Task {
                kind: TaskType::Testing,
                text: "Write unit tests for {subject} with a fake repository and a test dispatcher",
                query: "unit test {subject} with coroutines test dispatcher",
            },
            Task {
                kind: TaskType::CodeGeneration,
                text: "Add offline caching to {subject} with Room and a WorkManager sync",
                query: "offline cache for {subject} using Room",
            },
        ],
        tags: &["android", "coroutines", "release"],
    },
    Domain {
        name: "cli",
        language: "go",
        framework: "cobra",
        subjects: &["export", "import", "sync", "config", "login", "migrate"],
        files: &[
            "cmd/{subject}.go",
            "internal/{subject}/run.go",
            "internal/{subject}/run_test.go",
            "go.mod",
        ],
        tools: &[
            READ_FILE,
            EDIT_FILE,
            GREP,
            Tool {
                name: "go build",
                actions: &["build ./..."],
                outputs: &["ok"],
                latency_ms: (1_000, 20_000),
                can_time_out: false,
            },
            Tool {
                name: "go test",
                actions: &["run go test -race ./internal/{subject}/..."],
                outputs: &["ok  example.com/tool/internal/{subject}  {line}.{n}s"],
                latency_ms: (2_000, 60_000),
                can_time_out: true,
            },
            Tool {
                name: "golangci-lint",
                actions: &["lint the {subject} package"],
                outputs: &["{n} issues"],
                latency_ms: (3_000, 30_000),
                can_time_out: true,
            },
        ],
        errors: &[
            "./cmd/{subject}.go:{line}:2: undefined: run{subject}",
            "panic: runtime error: invalid memory address or nil pointer dereference [signal SIGSEGV code=0x1 addr=0x{n}]",
            "--- FAIL: Test{subject}Flags (0.{n}s): unknown flag: --output",
            "WARNING: DATA RACE Write at 0x00c000{n} by goroutine {line}",
        ],
        tasks: &[
            Task {
                kind: TaskType::CodeGeneration,
                text: "Add a `{subject}` subcommand with --output and --dry-run flags to the cobra CLI",
                query: "new cobra {subject} subcommand with flags",
            },
            Task {
                kind: TaskType::Debugging,
                text: "`tool {subject}` panics with a nil pointer dereference when the config file is missing",
                query: "{subject} command nil pointer panic without config",
            },
            Task {
                kind: TaskType::Testing,
                text: "Fix the data race reported by go test -race in internal/{subject}",
                query: "data race in {subject} package under go test -race",
            },
            Task {
                kind: TaskType::Documentation,
                text: "Write the README section and --help text for the {subject} command",
                query: "document the {subject} command usage",
            },
        ],
        tags: &["cli", "tooling"],
    },
];

const SUCCESS_VERDICTS: &[&str] = &[
    "Implemented the change for {subject}; all tests pass",
    "Fixed the {subject} issue; the regression test now passes",
    "Done: {subject} works as asked and the build is green",
    "Change for {subject} reviewed and merged",
];

const PARTIAL_VERDICTS: &[&str] = &[
    "Main change for {subject} done; follow-ups remain",
    "Fixed the crash in {subject} but one test is still flaky",
];

const PARTS: &[&str] = &[
    "implementation",
    "unit tests",
    "integration tests",
    "documentation",
    "lint clean-up",
    "migration",
];

const FAILURE_REASONS: &[&str] = &[
    "Could not get {subject} working within the step budget",
    "The root cause in {subject} is outside this repository",
    "Gave up after repeated failures in {file}",
];

const ABSTAIN_REASONS: &[&str] = &[
    "Needs production credentials the agent does not have",
    "The task for {subject} is ambiguous; asked a human to clarify the scope",
    "The change would delete data in {subject}; left for a human to approve",
];

const QUERY_PREFIXES: &[&str] = &[
    "",
    "how to ",
    "similar problem: ",
    "again: ",
    "need help with ",
];

const MODELS: &[&str] = &["gpt-4o", "claude-sonnet", "llama-3-70b", "qwen-2.5-coder"];

/// The per-episode choices that templates are filled from.
#[derive(Debug, Clone)]
struct Vars {
    domain: usize,
    subject: &'static str,
    file: String,
}

impl Vars {
    /// Fills `template` with this episode's subject and file (see [`crate::template::fill`]).
    fn fill(&self, template: &str, rng: &mut Rng) -> String {
        crate::template::fill(template, self.subject, &self.file, rng)
    }
}

/// A deterministic source of realistic agent episodes, steps, outcomes and queries.
///
/// Each [`new_episode`](Self::new_episode) picks a domain, a task and its variable parts;
/// the following [`steps`](Self::steps) and [`outcome`](Self::outcome) stay in that setting
/// (same tools, same files), as a real agent's would.
///
/// ```
/// use memory_bench::workload::WorkloadGen;
///
/// let mut generator = WorkloadGen::new(42);
/// let new = generator.new_episode();
/// let steps = generator.steps(10);
/// assert_eq!(steps.len(), 10);
/// assert!(!new.task_description.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct WorkloadGen {
    rng: Rng,
    vars: Vars,
    episodes: u64,
}

impl WorkloadGen {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
        let vars = random_vars(&mut rng);
        WorkloadGen {
            rng,
            vars,
            episodes: 0,
        }
    }

    /// A new task for an agent to start: description, type, context, tags and metadata.
    ///
    /// Also sets the setting (domain, subject, file) for the next steps and outcome.
    pub fn new_episode(&mut self) -> NewEpisode {
        self.vars = random_vars(&mut self.rng);
        self.episodes += 1;
        let domain = &DOMAINS[self.vars.domain];
        let task = &domain.tasks[self.rng.below(domain.tasks.len())];
        let task_description = self.vars.fill(task.text, &mut self.rng);

        let complexity = self.rng.pick(&[
            Complexity::Simple,
            Complexity::Moderate,
            Complexity::Moderate,
            Complexity::Complex,
        ]);
        let mut ctx_tags = Vec::new();
        for tag in domain.tags {
            if self.rng.chance(0.4) {
                ctx_tags.push((*tag).to_string());
            }
        }
        let context = TaskContext {
            domain: Some(domain.name.to_string()),
            language: Some(domain.language.to_string()),
            framework: Some(domain.framework.to_string()),
            complexity: Some(complexity),
            tags: ctx_tags,
        };

        let mut tags = Vec::new();
        if self.rng.chance(0.6) {
            tags.push(format!("ticket-{}", self.rng.range(100, 9_999)));
        }
        if self.rng.chance(0.2) {
            tags.push("urgent".to_string());
        }
        let mut metadata = Map::new();
        metadata.insert("agent".into(), json!("bench-agent"));
        metadata.insert("model".into(), json!(self.rng.pick(MODELS)));
        metadata.insert("run".into(), json!(self.episodes));

        NewEpisode {
            task_description,
            task_type: task.kind,
            context,
            tags,
            metadata,
            retrieval_session: None,
        }
    }

    /// `n` steps of the current task: tool calls with their results (about 76% success,
    /// the rest errors with the domain's real-looking messages or timeouts), latencies,
    /// parameters and token counts. An error is usually followed by an edit that fixes it.
    pub fn steps(&mut self, n: usize) -> Vec<StepInput> {
        let domain = &DOMAINS[self.vars.domain];
        let mut steps = Vec::with_capacity(n);
        let mut last_error: Option<String> = None;
        for i in 0..n {
            // Agents usually start by reading, and react to an error by editing.
            let tool = if i == 0 {
                &domain.tools[0]
            } else if last_error.is_some() && self.rng.chance(0.7) {
                &domain.tools[1]
            } else {
                &domain.tools[self.rng.below(domain.tools.len())]
            };
            // Files change from step to step, within the task's subject.
            if self.rng.chance(0.3) {
                self.vars.file = random_file(domain, self.vars.subject, &mut self.rng);
            }
            let action = match &last_error {
                Some(err) if tool.name == "edit_file" => {
                    format!("fix in {}: {}", self.vars.file, shorten(err, 120))
                }
                _ => self.vars.fill(self.rng.pick(tool.actions), &mut self.rng),
            };
            let roll = self.rng.unit();
            let result = if roll < 0.76 || tool.name == "read_file" {
                StepResult::Success {
                    output: self.vars.fill(self.rng.pick(tool.outputs), &mut self.rng),
                }
            } else if roll < 0.94 || !tool.can_time_out {
                StepResult::Error {
                    message: self.vars.fill(self.rng.pick(domain.errors), &mut self.rng),
                }
            } else {
                StepResult::Timeout
            };
            let latency_ms = match result {
                StepResult::Timeout => self.rng.pick(&[30_000, 60_000, 120_000, 300_000]),
                _ => {
                    // Skewed towards the fast end, as tool latencies are.
                    let (lo, hi) = tool.latency_ms;
                    let u = self.rng.unit();
                    lo + ((hi - lo) as f64 * u * u) as u64
                }
            };
            last_error = match &result {
                StepResult::Error { message } => Some(message.clone()),
                StepResult::Timeout => Some(format!("{} timed out", tool.name)),
                StepResult::Success { .. } => None,
            };
            let parameters = match tool.name {
                "read_file" => json!({ "path": self.vars.file }),
                "edit_file" => json!({
                    "path": self.vars.file,
                    "line": self.rng.range(1, 400),
                }),
                "grep" => json!({ "pattern": self.vars.subject, "path": "." }),
                _ => json!({ "cmd": tool.name, "cwd": ".", "timeout_s": 300 }),
            };
            let mut step = StepInput::new(tool.name, action, result)
                .with_latency_ms(latency_ms)
                .with_parameters(parameters);
            step.tokens_used = Some(self.rng.range(80, 2_500) as u32);
            steps.push(step);
        }
        steps
    }

    /// How the current task ended: about 75% success, 12% partial success, 10% failure and
    /// 3% abstained, each with wording in the task's setting.
    pub fn outcome(&mut self) -> TaskOutcome {
        let roll = self.rng.unit();
        if roll < 0.75 {
            let mut artifacts = vec![self.vars.file.clone()];
            if self.rng.chance(0.5) {
                artifacts.push(format!("PR #{}", self.rng.range(10, 4_000)));
            }
            TaskOutcome::Success {
                verdict: self
                    .vars
                    .fill(self.rng.pick(SUCCESS_VERDICTS), &mut self.rng),
                artifacts,
            }
        } else if roll < 0.87 {
            let split = 1 + self.rng.below(PARTS.len() - 1);
            let start = self.rng.below(PARTS.len());
            let mut parts: Vec<String> = (0..PARTS.len())
                .map(|i| PARTS[(start + i) % PARTS.len()].to_string())
                .collect();
            parts.truncate(split + 1);
            let failed = parts.split_off(split);
            TaskOutcome::PartialSuccess {
                verdict: self
                    .vars
                    .fill(self.rng.pick(PARTIAL_VERDICTS), &mut self.rng),
                completed: parts,
                failed,
            }
        } else if roll < 0.97 {
            let domain = &DOMAINS[self.vars.domain];
            let details = self
                .rng
                .chance(0.8)
                .then(|| self.vars.fill(self.rng.pick(domain.errors), &mut self.rng));
            TaskOutcome::Failure {
                reason: self
                    .vars
                    .fill(self.rng.pick(FAILURE_REASONS), &mut self.rng),
                details,
            }
        } else {
            TaskOutcome::Abstained {
                reason: self
                    .vars
                    .fill(self.rng.pick(ABSTAIN_REASONS), &mut self.rng),
            }
        }
    }

    /// A complete, scored episode in `namespace` with `steps` steps, started at `started_at`,
    /// ready for [`memory_core::EpisodeStore::store_episode`].
    ///
    /// This is how benchmarks seed a database quickly: one insert per episode instead of a
    /// start, one call per step and a completion. Steps are numbered 1..=`steps` and
    /// timestamped after `started_at` by their latencies plus a think time, all truncated to
    /// microseconds; the reward and reflection are computed as the memory would, without an
    /// efficiency baseline.
    pub fn completed_episode(
        &mut self,
        namespace: &str,
        steps: usize,
        started_at: DateTime<Utc>,
    ) -> Episode {
        let new = self.new_episode();
        let inputs = self.steps(steps);
        let outcome = self.outcome();
        let started_at = to_micros(started_at);
        let mut at = started_at;
        let mut recorded = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.into_iter().enumerate() {
            let think_ms = self.rng.range(200, 4_000) as i64;
            at = to_micros(at + Duration::milliseconds(input.latency_ms as i64 + think_ms));
            recorded.push(input.into_step(i as u32 + 1, at));
        }
        let ended_at = to_micros(at + Duration::milliseconds(self.rng.range(100, 2_000) as i64));
        let reward = compute_reward(&outcome, &recorded, None);
        let reflection = reflect(&outcome, &recorded, None);
        Episode {
            id: Uuid::now_v7(),
            namespace: namespace.to_string(),
            task_description: new.task_description,
            task_type: new.task_type,
            context: new.context,
            started_at,
            ended_at: Some(ended_at),
            steps: recorded,
            outcome: Some(outcome),
            reward: Some(reward),
            reflection: Some(reflection),
            pattern_ids: Vec::new(),
            tags: new.tags,
            metadata: new.metadata,
            retrieval_session: None,
        }
    }

    /// A retrieval query in namespace [`BENCH_NAMESPACE`], as an agent starting a task similar
    /// to a generated one would ask it: the task reworded, with a domain context (and
    /// sometimes language and task type), limit 5 and a 1,500-token budget.
    ///
    /// Does not change the current episode's setting.
    pub fn query(&mut self) -> RetrievalQuery {
        let vars = random_vars(&mut self.rng);
        let domain = &DOMAINS[vars.domain];
        let task = &domain.tasks[self.rng.below(domain.tasks.len())];
        let prefix = self.rng.pick(QUERY_PREFIXES);
        let text = format!("{prefix}{}", vars.fill(task.query, &mut self.rng));
        let mut query = RetrievalQuery::new(BENCH_NAMESPACE, text);
        query.context.domain = Some(domain.name.to_string());
        if self.rng.chance(0.5) {
            query.context.language = Some(domain.language.to_string());
        }
        if self.rng.chance(0.5) {
            query.task_type = Some(task.kind);
        }
        query.limit = 5;
        query.token_budget = 1_500;
        query
    }

    /// The domain names the generator draws from, e.g. for filtering listings.
    pub fn domains() -> impl Iterator<Item = &'static str> {
        DOMAINS.iter().map(|d| d.name)
    }
}

fn random_vars(rng: &mut Rng) -> Vars {
    let domain = rng.below(DOMAINS.len());
    let subject = rng.pick(DOMAINS[domain].subjects);
    let file = random_file(&DOMAINS[domain], subject, rng);
    Vars {
        domain,
        subject,
        file,
    }
}

fn random_file(domain: &Domain, subject: &str, rng: &mut Rng) -> String {
    rng.pick(domain.files).replace("{subject}", subject)
}

/// At most `max` characters of `text`, on a character boundary.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Sample values of a generated workload, for tests and sanity checks.
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use memory_core::{Limits, OutcomeKind};

    #[test]
    fn same_seed_same_output() {
        let mut a = WorkloadGen::new(7);
        let mut b = WorkloadGen::new(7);
        for _ in 0..50 {
            assert_eq!(a.new_episode(), b.new_episode());
            assert_eq!(a.steps(12), b.steps(12));
            assert_eq!(a.outcome(), b.outcome());
            assert_eq!(a.query(), b.query());
        }
        let t = Utc::now();
        let ea = a.completed_episode("ns", 10, t);
        let mut eb = b.completed_episode("ns", 10, t);
        eb.id = ea.id;
        assert_eq!(ea, eb);
    }

    #[test]
    fn different_seeds_differ() {
        let mut a = WorkloadGen::new(1);
        let mut b = WorkloadGen::new(2);
        let ta: Vec<_> = (0..20).map(|_| a.new_episode().task_description).collect();
        let tb: Vec<_> = (0..20).map(|_| b.new_episode().task_description).collect();
        assert_ne!(ta, tb);
    }

    #[test]
    fn generated_input_passes_the_default_limits() {
        let limits = Limits::default();
        let mut g = WorkloadGen::new(99);
        for _ in 0..500 {
            let new = g.new_episode();
            limits.check_new_episode(&new).unwrap();
            for step in g.steps(15) {
                limits.check_step(&step).unwrap();
            }
            limits.check_outcome(&g.outcome()).unwrap();
            let q = g.query();
            limits.check_namespace(&q.namespace).unwrap();
            limits
                .check_query(&q.text, q.limit, q.token_budget)
                .unwrap();
            limits.check_context(&q.context).unwrap();
        }
        for _ in 0..100 {
            let ep = g.completed_episode("bench", 10, Utc::now());
            limits.check_namespace(&ep.namespace).unwrap();
            limits.check_context(&ep.context).unwrap();
            limits.check_outcome(ep.outcome.as_ref().unwrap()).unwrap();
        }
    }

    #[test]
    fn placeholders_are_all_filled() {
        let mut g = WorkloadGen::new(3);
        for _ in 0..300 {
            let ep = g.completed_episode("bench", 8, Utc::now());
            let text = serde_json::to_string(&ep).unwrap();
            for p in ["{subject}", "{file}", "{line}", "{n}"] {
                assert!(!text.contains(p), "unfilled {p} in {text}");
            }
            let q = g.query();
            assert!(!q.text.contains('{'), "{}", q.text);
        }
    }

    #[test]
    fn completed_episode_is_well_formed() {
        let mut g = WorkloadGen::new(11);
        let start = Utc::now();
        let ep = g.completed_episode("bench", 10, start);
        assert_eq!(ep.steps.len(), 10);
        assert_eq!(ep.started_at, to_micros(start));
        for (i, s) in ep.steps.iter().enumerate() {
            assert_eq!(s.seq, i as u32 + 1);
            assert_eq!(s.at, to_micros(s.at));
            assert!(s.at > ep.started_at);
        }
        assert!(ep.steps.windows(2).all(|w| w[0].at < w[1].at));
        let ended = ep.ended_at.unwrap();
        assert!(ended > ep.steps[9].at && ended == to_micros(ended));
        assert!(ep.reward.is_some() && ep.reflection.is_some());
        assert!(ep.is_complete());
    }

    #[test]
    fn mix_is_realistic() {
        let mut g = WorkloadGen::new(5);
        let mut kinds = std::collections::HashMap::new();
        let mut ok_steps = 0;
        let mut all_steps = 0;
        let mut domains = std::collections::HashSet::new();
        for _ in 0..2_000 {
            let new = g.new_episode();
            domains.insert(new.context.domain.clone().unwrap());
            for s in g.steps(10) {
                all_steps += 1;
                ok_steps += usize::from(s.result.is_success());
            }
            *kinds.entry(g.outcome().kind()).or_insert(0usize) += 1;
        }
        assert_eq!(domains.len(), DOMAINS.len());
        let share = |k| kinds.get(&k).copied().unwrap_or(0) as f64 / 2_000.0;
        assert!((0.70..0.80).contains(&share(OutcomeKind::Success)));
        assert!(share(OutcomeKind::PartialSuccess) > 0.05);
        assert!(share(OutcomeKind::Failure) > 0.05);
        assert!(share(OutcomeKind::Abstained) > 0.005);
        let ok = ok_steps as f64 / all_steps as f64;
        assert!((0.70..0.90).contains(&ok), "step success share {ok}");
    }
}
