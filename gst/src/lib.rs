//! The GStreamer plugin `amljpeg`: the element `amljpegenc`, JPEG encoding on the Amlogic
//! hardware encoder through amljpeg (every driver generation, libjpeg-turbo when the device
//! cannot), with libjpeg's quality scale.

use gst::glib;

mod amljpegenc;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    amljpegenc::register(plugin)
}

gst::plugin_define!(
    amljpeg,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    env!("CARGO_PKG_VERSION"),
    "MIT/X11",
    "amljpeg",
    "amljpeg",
    // GStreamer's own word for a plugin with no published origin (the project has no public
    // address yet; a made-up one would send users nowhere).
    "Unknown package origin"
);
