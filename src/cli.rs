//! Command-line arguments (clap) and their validation into a [`Config`], in one place.

use crate::index::Limits;
use crate::model::AnalysisOptions;
use crate::pipeline::Options;
use crate::report::ci::{self, Rules, Setting};
use crate::report::compare::{Growth, parse_growth};
use crate::source::{ImageRef, Platform, ReadOptions};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
IMAGE can be:
  my-app:v3, my-app, 3f2a…, my-app@sha256:…   an image in the Docker daemon (or docker:NAME)
  podman:my-app:v3                           an image in Podman's store (or --source podman)
  my-app.tar, docker-archive:my-app.tar      a `docker save` tar (any Docker version, Podman)
  image.tar, oci-archive:image.tar           an OCI archive (skopeo, buildx, podman)
  ./layout, oci:./layout                     an OCI layout directory
  -                                          a tar on standard input (docker save my-app | dsize -)
The daemon is found as the docker CLI finds it: DOCKER_HOST (unix://, tcp:// with
DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for TLS, or ssh://[USER@]HOST[:PORT]), else the current
docker context, else /var/run/docker.sock.

Numbers (exact, see the README):
  stored  = sum of layer sizes (what `docker image ls` shows)
  visible = bytes of regular files in the final filesystem
  wasted  = stored − visible: files a later layer overwrote or deleted, which still ship

Examples:
  dsize assets/my-app-v1.tar --report
  dsize my-app:v3 --ci --max-waste 20MB --max-leftovers 50MB
  dsize my-app:v3 --json report.json
  docker save my-app:v3 | dsize - --ci
  dsize compare my-app:v1 my-app:v2 my-app:v3    (see dsize compare --help)

Exit status: 0 ok (CI rules passed), 1 a CI rule failed, 2 error.";

/// dsize: where a container image's bytes go.
#[derive(Debug, Parser)]
#[command(
    name = "dsize",
    version,
    about = "Shows where a container image's bytes go: every layer's size, the wasted bytes that later layers hid but still ship, and leftovers like apt lists, caches and .git, each with its fix.",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// The image to analyse (see IMAGE below). An image called `compare` is `./compare` or
    /// `docker:compare`.
    #[arg(value_name = "IMAGE", required = true)]
    pub image: Option<String>,

    #[command(flatten)]
    pub read: ReadArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub ci: CiArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands; `dsize IMAGE` alone analyses one image.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare versions of an image: sizes, waste and leftovers side by side, and what changed
    /// between each image and the next, matched by path.
    #[command(after_help = COMPARE_AFTER_HELP)]
    Compare(CompareArgs),
}

const COMPARE_AFTER_HELP: &str = "\
Each IMAGE is named as for `dsize IMAGE` (daemon names, archives, OCI directories, `-` once);
sources may be mixed. Every image is indexed once, all in parallel.

What changed between each image and the next is matched by path, not by layer position:
directory rows (cut at depth 3, or at a directory that exists in one image only) never overlap
and add up to the visible change; instructions are matched by their normalised text.

Examples:
  dsize compare my-app:v1 my-app:v2 my-app:v3
  dsize compare old.tar my-app:latest --markdown > comment.md
  dsize compare main.tar pr.tar --ci --max-growth 5%
  dsize compare v1.tar v2.tar --json diff.json

Exit status: 0 ok (CI passed), 1 --max-growth exceeded, 2 error.";

/// `dsize compare IMAGE IMAGE [IMAGE…]`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Two or more images, oldest first.
    #[arg(value_name = "IMAGE", num_args = 2.., required = true)]
    pub images: Vec<String>,

    #[command(flatten)]
    pub read: ReadArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Print a Markdown table fit for a pull-request comment.
    #[arg(long, help_heading = "Output")]
    pub markdown: bool,

    /// Gate on size growth: exit 1 when the last image's stored size grew past --max-growth
    /// against the first.
    #[arg(
        long,
        requires = "max_growth",
        help_heading = "CI gate (exit 1 when it fails)"
    )]
    pub ci: bool,

    /// Most growth allowed from the first image to the last: a share of the first's stored size
    /// (5%) or a size (20MB, 20MiB).
    #[arg(
        long,
        value_name = "PCT|SIZE",
        requires = "ci",
        help_heading = "CI gate (exit 1 when it fails)"
    )]
    pub max_growth: Option<String>,
}

/// How the image is read and measured.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Reading")]
pub struct ReadArgs {
    /// Pick this platform from a multi-platform image (os/arch[/variant], e.g. linux/arm64).
    /// Default: the host platform; the report says which one was picked.
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,

    /// Daemon to read NAME images from: docker or podman (default: docker, then Podman if only it answers).
    #[arg(long, value_name = "DAEMON", value_parser = ["docker", "podman"])]
    pub source: Option<String>,

    /// How many bottom layers form the base image for "user waste" (dive counts 1).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub base_layers: usize,

    /// Stop with an error when one layer inflates past this size (guards against gzip bombs).
    #[arg(long, value_name = "SIZE", default_value = "64GiB")]
    pub max_layer_bytes: String,

    /// Hash every blob and check it against its digest (blob names, config diff_ids). Slower:
    /// every byte is read. Off by default.
    #[arg(long)]
    pub verify: bool,

    /// Worker threads for indexing layers (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub jobs: usize,

    /// When the daemon does not have the image, have it pull the image first, with the login
    /// `docker pull` would use (`docker login`'s, or the credential helper's in the docker
    /// config; anonymous without one). Without it dsize never pulls.
    #[arg(long)]
    pub pull: bool,
}

/// What to print or write.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Print the text report to stdout (the default when no other output is chosen).
    #[arg(long)]
    pub report: bool,

    /// Write the JSON report (schema in the README) to FILE, or to stdout with `-`.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// How many waste groups and leftovers to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,

    /// Never show the progress line on stderr.
    #[arg(long)]
    pub no_progress: bool,

    /// Open the interactive browser even when stdout is not a terminal or --ci is given (then
    /// the CI verdict shows in the summary). The default when stdout is a terminal and neither
    /// --report, --json nor --ci is given.
    #[arg(long, conflicts_with_all = ["report", "json"])]
    pub tui: bool,
}

/// CI gate.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "CI gate (exit 1 when a rule fails)")]
pub struct CiArgs {
    /// Check rules and print PASS/FAIL/SKIP per rule. Without any rule, dive's defaults apply
    /// (--min-efficiency 0.9 --max-user-waste 10%). Reads ./.dive-ci when present.
    #[arg(long)]
    pub ci: bool,

    /// Most wasted bytes allowed: a size (20MB, 20MiB) or a share of stored bytes (5%).
    #[arg(long, value_name = "SIZE|PCT", requires = "ci")]
    pub max_waste: Option<String>,

    /// Least efficiency (visible / stored) allowed: 0.9 or 90%.
    #[arg(long, value_name = "FRACTION", requires = "ci")]
    pub min_efficiency: Option<String>,

    /// Most user waste allowed: waste hidden above the base, as a share of the bytes above it (10% or 0.1).
    #[arg(long, value_name = "PCT", requires = "ci")]
    pub max_user_waste: Option<String>,

    /// Most leftover bytes allowed (apt lists, caches, .git, toolchains, docs…).
    #[arg(long, value_name = "SIZE", requires = "ci")]
    pub max_leftovers: Option<String>,

    /// Largest stored size allowed (what `docker image ls` shows).
    #[arg(long, value_name = "SIZE", requires = "ci")]
    pub max_size: Option<String>,

    /// dive's CI rules file (default: ./.dive-ci when it exists).
    #[arg(long, value_name = "FILE", requires = "ci")]
    pub ci_config: Option<PathBuf>,
}

/// Where the JSON report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonTo {
    Stdout,
    File(PathBuf),
}

/// `--json FILE`, with `-` for stdout.
fn json_to(p: Option<PathBuf>) -> Option<JsonTo> {
    p.map(|p| {
        if p.as_os_str() == "-" {
            JsonTo::Stdout
        } else {
            JsonTo::File(p)
        }
    })
}

/// The validated configuration of a `dsize compare` run.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    pub images: Vec<ImageRef>,
    pub options: Options,
    pub report: bool,
    pub markdown: bool,
    pub json: Option<JsonTo>,
    /// Set with `--ci`.
    pub max_growth: Option<Growth>,
    pub top: usize,
    pub progress: bool,
    /// `--tui`: the interactive view, whatever stdout is.
    pub tui: bool,
}

impl CompareArgs {
    /// Validates everything; the error is one line for the user.
    pub fn into_config(self) -> Result<CompareConfig, String> {
        let options = read_options(&self.read)?;
        let images: Vec<ImageRef> = self.images.iter().map(|s| ImageRef::parse(s)).collect();
        if images.iter().filter(|i| **i == ImageRef::Stdin).count() > 1 {
            return Err("standard input (`-`) can be read only once".into());
        }
        if self.output.tui && (self.ci || self.markdown) {
            return Err("--tui cannot be combined with --ci or --markdown".into());
        }
        let max_growth = match &self.max_growth {
            Some(s) if self.ci => Some(parse_growth(s).map_err(|e| format!("--max-growth: {e}"))?),
            _ => None,
        };
        Ok(CompareConfig {
            images,
            options,
            report: self.output.report,
            markdown: self.markdown,
            json: json_to(self.output.json),
            max_growth,
            top: self.output.top,
            progress: !self.output.no_progress,
            tui: self.output.tui,
        })
    }
}

/// The validated configuration of one run.
#[derive(Debug, Clone)]
pub struct Config {
    pub image: ImageRef,
    pub options: Options,
    pub report: bool,
    pub json: Option<JsonTo>,
    pub ci: Option<Rules>,
    pub top: usize,
    pub progress: bool,
    /// `--tui`: the interactive browser, whatever stdout is.
    pub tui: bool,
}

/// Builds the pipeline options shared by every subcommand.
pub fn read_options(r: &ReadArgs) -> Result<Options, String> {
    let platform = r.platform.as_deref().map(Platform::parse).transpose()?;
    let max_layer_bytes =
        ci::parse_size(&r.max_layer_bytes).map_err(|e| format!("--max-layer-bytes: {e}"))?;
    if r.base_layers == 0 {
        return Err("--base-layers must be at least 1".into());
    }
    Ok(Options {
        read: ReadOptions {
            platform,
            limits: Limits {
                max_layer_bytes,
                digest: r.verify,
            },
            verify: r.verify,
            jobs: r.jobs,
            pull: r.pull,
        },
        analysis: AnalysisOptions {
            base_layers: r.base_layers,
        },
        podman: r.source.as_deref() == Some("podman"),
    })
}

impl Cli {
    /// Validates everything; the error is one line for the user.
    pub fn into_config(self) -> Result<Config, String> {
        let options = read_options(&self.read)?;
        let ci = if self.ci.ci {
            Some(ci_rules(&self.ci)?)
        } else {
            None
        };
        let json = json_to(self.output.json);
        let image = self.image.ok_or("the IMAGE argument is required")?;
        Ok(Config {
            image: ImageRef::parse(&image),
            options,
            report: self.output.report,
            json,
            ci,
            top: self.output.top,
            progress: !self.output.no_progress,
            tui: self.output.tui,
        })
    }
}

fn ci_rules(c: &CiArgs) -> Result<Rules, String> {
    fn flag<T>(
        v: &Option<String>,
        name: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Setting<T>, String> {
        match v {
            None => Ok(Setting::Unset),
            Some(s) => parse(s)
                .map(|value| {
                    Setting::Set(ci::Limit {
                        value,
                        origin: name.into(),
                    })
                })
                .map_err(|e| format!("{name}: {e}")),
        }
    }
    let flags = Rules {
        max_waste: flag(&c.max_waste, "--max-waste", ci::parse_waste)?,
        min_efficiency: flag(&c.min_efficiency, "--min-efficiency", ci::parse_fraction)?,
        max_user_waste: flag(&c.max_user_waste, "--max-user-waste", ci::parse_percent)?,
        max_leftovers: flag(&c.max_leftovers, "--max-leftovers", ci::parse_size)?,
        max_size: flag(&c.max_size, "--max-size", ci::parse_size)?,
    };
    let file = match &c.ci_config {
        Some(p) => ci::load_dive_ci(p)?,
        None if std::path::Path::new(".dive-ci").is_file() => {
            ci::load_dive_ci(std::path::Path::new(".dive-ci"))?
        }
        None => Rules::default(),
    };
    Ok(Rules::merge(flags, file))
}
