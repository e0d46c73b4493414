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
