//! Command-line arguments (clap) and their validation into a [`Config`], in one place.

use crate::index::Limits;
use crate::model::AnalysisOptions;
use crate::pipeline::Options;
use crate::report::ci::{self, Rules, Setting};
use crate::source::{ImageRef, Platform, ReadOptions};
use clap::{Args, Parser};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
IMAGE can be:
  my-app:v3, my-app, 3f2a…, my-app@sha256:…   an image in the Docker daemon (or docker:NAME)
  podman:my-app:v3                           an image in Podman's store (or --source podman)
  my-app.tar, docker-archive:my-app.tar      a `docker save` tar (any Docker version, Podman)
  image.tar, oci-archive:image.tar           an OCI archive (skopeo, buildx, podman)
  ./layout, oci:./layout                     an OCI layout directory
  -                                          a tar on standard input (docker save my-app | dsize -)

Numbers (exact, see the README):
  stored  = sum of layer sizes (what `docker image ls` shows)
  visible = bytes of regular files in the final filesystem
  wasted  = stored − visible: files a later layer overwrote or deleted, which still ship

Examples:
  dsize assets/my-app-v1.tar --report
  dsize my-app:v3 --ci --max-waste 20MB --max-leftovers 50MB
  dsize my-app:v3 --json report.json
  docker save my-app:v3 | dsize - --ci

Exit status: 0 ok (CI rules passed), 1 a CI rule failed, 2 error.";

/// dsize: where a container image's bytes go.
#[derive(Debug, Parser)]
#[command(
    name = "dsize",
    version,
    about = "Shows where a container image's bytes go: every layer's size, the wasted bytes that later layers hid but still ship, and leftovers like apt lists, caches and .git, each with its fix.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// The image to analyse (see IMAGE below).
    #[arg(value_name = "IMAGE")]
    pub image: String,

    #[command(flatten)]
    pub read: ReadArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub ci: CiArgs,
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

    /// Worker threads for indexing layers (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub jobs: usize,
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
            limits: Limits { max_layer_bytes },
            jobs: r.jobs,
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
        let json = self.output.json.map(|p| {
            if p.as_os_str() == "-" {
                JsonTo::Stdout
            } else {
                JsonTo::File(p)
            }
        });
        Ok(Config {
            image: ImageRef::parse(&self.image),
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
