//! `amljpegenc`: a `GstVideoEncoder` whose frames go to amljpeg: raw video in (the formats the
//! library takes, system memory or dma-bufs), `image/jpeg` out, one JPEG per frame with the
//! frame's timestamps.

use gst::glib;
use gst::prelude::*;

mod imp;
mod input;

/// Chroma subsampling (`subsampling` property).
#[derive(Debug, Eq, PartialEq, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAmlJpegEncSubsampling")]
pub enum Subsampling {
    #[enum_value(name = "4:2:0", nick = "420")]
    S420,
    #[enum_value(name = "4:2:2", nick = "422")]
    S422,
    #[enum_value(name = "4:4:4 (software only)", nick = "444")]
    S444,
}

/// Which backend encodes (`backend` property).
#[derive(Debug, Eq, PartialEq, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAmlJpegEncBackend")]
pub enum Backend {
    #[enum_value(name = "The hardware when it can, else libjpeg-turbo", nick = "auto")]
    Auto,
    #[enum_value(
        name = "The hardware only: a frame it cannot encode is an error",
        nick = "hardware"
    )]
    Hardware,
    #[enum_value(name = "libjpeg-turbo only", nick = "software")]
    Software,
}

glib::wrapper! {
    pub struct AmlJpegEnc(ObjectSubclass<imp::AmlJpegEnc>)
        @extends gst_video::VideoEncoder, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "amljpegenc",
        gst::Rank::PRIMARY,
        AmlJpegEnc::static_type(),
    )
}
