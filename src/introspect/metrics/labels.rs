//! A sample's labels, and label values escaped as OpenMetrics requires.

use std::fmt::{self, Write as _};

use prometheus_client::encoding::{
    EncodeLabel, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder, LabelValueEncoder,
};

/// A sample's labels: `loop`, and for the rows of a family keyed by server,
/// actor or direction, one more.
#[derive(Debug)]
pub(super) struct Labels<'a> {
    lp: usize,
    key: Option<(&'static str, &'a str)>,
}

impl<'a> Labels<'a> {
    pub(super) fn lp(lp: usize) -> Labels<'a> {
        Labels { lp, key: None }
    }

    pub(super) fn with(lp: usize, key: &'static str, value: &'a str) -> Labels<'a> {
        Labels {
            lp,
            key: Some((key, value)),
        }
    }
}

impl EncodeLabelSet for Labels<'_> {
    fn encode(&self, mut encoder: LabelSetEncoder<'_>) -> fmt::Result {
        ("loop", self.lp).encode(encoder.encode_label())?;
        if let Some((key, value)) = self.key {
            (key, Escaped(value)).encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

/// A label value escaped as the OpenMetrics text format requires
/// (prometheus-client writes values as given).
#[derive(Debug)]
struct Escaped<'a>(&'a str);

impl EncodeLabelValue for Escaped<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}
