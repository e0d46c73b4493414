//! Progress bars on a terminal only.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use portcullis_oci::{ImageInfo, Progress};

/// A byte progress bar over all layers of an image, hidden unless stderr is a terminal.
#[derive(Debug)]
pub struct LayerProgress {
    bar: ProgressBar,
}

impl LayerProgress {
    /// A bar sized to the image's stored layer bytes; `quiet` hides it.
    pub fn new(info: &ImageInfo, quiet: bool) -> Self {
        let total: u64 = info.layers.iter().map(|l| l.size).sum();
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} reading layers {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
            ) {
                bar.set_style(style);
            }
            bar
        };
        Self { bar }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for LayerProgress {
    fn layer_bytes(&self, _index: usize, bytes: u64) {
        self.bar.inc(bytes);
    }
}

/// A byte progress bar over a database artifact's layer while `db pull` or a scan's
/// `--db-repository` pulls it, hidden unless stderr is a terminal.
#[derive(Debug)]
pub struct PullBar {
    bar: ProgressBar,
}

impl PullBar {
    /// A bar (sized once the layer's size is known); `quiet` hides it.
    pub fn new(quiet: bool) -> Self {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} pulling the database {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
            ) {
                bar.set_style(style);
            }
            bar
        };
        Self { bar }
    }
}

impl portcullis_dbshare::PullProgress for PullBar {
    fn start(&self, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(0);
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use portcullis_dbshare::PullProgress;

    use super::PullBar;

    #[test]
    fn the_pull_bar_counts_the_layer_and_is_hidden_when_quiet() {
        let bar = PullBar::new(true);
        assert!(bar.bar.is_hidden());
        bar.start(1000);
        bar.advance(400);
        bar.advance(600);
        assert_eq!(bar.bar.length(), Some(1000));
        assert_eq!(bar.bar.position(), 1000);
        bar.finish();
        assert!(bar.bar.is_finished());
    }
}
