//! The element's implementation: properties, pads, and one JPEG per frame from an amljpeg
//! handle opened at start and closed at stop.

use super::input::{self, Planes};
use super::{Backend, Subsampling};
use amljpeg::{BackendChoice, Encoder};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use parking_lot::Mutex;
use std::os::fd::BorrowedFd;
use std::sync::LazyLock;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "amljpegenc",
        gst::DebugColorFlags::empty(),
        Some("Amlogic hardware JPEG encoder"),
    )
});

const DEFAULT_QUALITY: u32 = 85;

#[derive(Debug, Clone)]
struct Settings {
    quality: u32,
    subsampling: Subsampling,
    backend: Backend,
    device: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            quality: DEFAULT_QUALITY,
            subsampling: Subsampling::S420,
            backend: Backend::Auto,
            device: None,
        }
    }
}

struct State {
    encoder: Encoder,
    info: Option<gst_video::VideoInfo>,
    /// The backend of the last frame ("none" before the first).
    last_backend: &'static str,
}

#[derive(Default)]
pub struct AmlJpegEnc {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for AmlJpegEnc {
    const NAME: &'static str = "GstAmlJpegEnc";
    type Type = super::AmlJpegEnc;
    type ParentType = gst_video::VideoEncoder;
}

impl ObjectImpl for AmlJpegEnc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt::builder("quality")
                    .nick("Quality")
                    .blurb("Quality 1..100, libjpeg's scale (takes effect at the next frame)")
                    .minimum(1)
                    .maximum(100)
                    .default_value(DEFAULT_QUALITY)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("subsampling", Subsampling::S420)
                    .nick("Subsampling")
                    .blurb("Chroma subsampling (4:4:4 is encoded in software)")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("backend", Backend::Auto)
                    .nick("Backend")
                    .blurb(
                        "Which encoder: the hardware when it can (auto), only it, or only software",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("device")
                    .nick("Device")
                    .blurb(
                        "The encoder's device node (default: $AML_JPEG_DEVICE, else /dev/jpegenc)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("last-backend")
                    .nick("Last backend")
                    .blurb("What encoded the last frame: hardware, software, or none yet")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock();
        match pspec.name() {
            "quality" => settings.quality = value.get().expect("type checked upstream"),
            "subsampling" => settings.subsampling = value.get().expect("type checked upstream"),
            "backend" => settings.backend = value.get().expect("type checked upstream"),
            "device" => settings.device = value.get().expect("type checked upstream"),
            other => unreachable!("no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock();
        match pspec.name() {
            "quality" => settings.quality.to_value(),
            "subsampling" => settings.subsampling.to_value(),
            "backend" => settings.backend.to_value(),
            "device" => settings.device.to_value(),
            "last-backend" => {
                let state = self.state.lock();
                state.as_ref().map_or("none", |s| s.last_backend).to_value()
            }
            other => unreachable!("no property {other}"),
        }
    }
}

impl GstObjectImpl for AmlJpegEnc {}

impl ElementImpl for AmlJpegEnc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Amlogic JPEG encoder",
                "Codec/Encoder/Image/Hardware",
                "Encodes video frames to JPEG on the Amlogic hardware encoder (/dev/jpegenc, \
                 every driver generation), with libjpeg-turbo when the device cannot",
                "amljpeg developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let system = gst_video::VideoCapsBuilder::new()
                .format_list(input::FORMATS)
                .width_range(1..=65535)
                .height_range(1..=65535)
                .build();
            let dmabuf = gst_video::VideoCapsBuilder::new()
                .features([gst_allocators::CAPS_FEATURE_MEMORY_DMABUF])
                .format_list(input::FORMATS)
                .width_range(1..=65535)
                .height_range(1..=65535)
                .build();
            let mut sink_caps = system;
            sink_caps.merge(dmabuf);
            let src_caps = gst::Caps::builder("image/jpeg")
                .field("parsed", true)
                .field("width", gst::IntRange::new(1, 65535))
                .field("height", gst::IntRange::new(1, 65535))
                .field("framerate", gst::FractionRange::new((0, 1), (i32::MAX, 1)))
                .build();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &sink_caps,
                )
                .expect("sink template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src_caps,
                )
                .expect("src template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl AmlJpegEnc {
    /// Encodes one frame's buffer; returns the JPEG and the backend that made it.
    fn encode(
        &self,
        state: &mut State,
        buffer: &gst::BufferRef,
        settings: &Settings,
    ) -> Result<(Vec<u8>, &'static str), String> {
        let info = state.info.as_ref().ok_or("no format negotiated")?;
        let (format, reorder) =
            input::pixel_format(info.format()).ok_or("a format the element does not take")?;
        let (width, height) = (info.width(), info.height());
        // Where the planes are: the buffer's video meta (the producer's own layout), else the
        // caps' default layout.
        let meta = buffer.meta::<gst_video::VideoMeta>();
        let planes = match &meta {
            Some(meta) => Planes {
                offsets: meta.offset(),
                strides: meta.stride(),
            },
            None => Planes {
                offsets: info.offset(),
                strides: info.stride(),
            },
        };
        state.encoder.set_subsampling(match settings.subsampling {
            Subsampling::S420 => amljpeg::Subsampling::S420,
            Subsampling::S422 => amljpeg::Subsampling::S422,
            Subsampling::S444 => amljpeg::Subsampling::S444,
        });
        let quality = settings.quality as i32;
        let encoder = &mut state.encoder;
        // A frame in one dma-buf, laid out as the library reads it: the buffer itself.
        let single = (buffer.n_memory() == 1).then(|| buffer.peek_memory(0));
        let dmabuf = single
            .and_then(|m| m.downcast_memory_ref::<gst_allocators::DmaBufMemory>())
            .filter(|_| !reorder);
        if let Some(dmabuf) = dmabuf {
            let memory = single.expect("one memory");
            if let Some(layout) = input::in_place(format, width, height, &planes, memory.size()) {
                // SAFETY: the buffer holds the dma-buf open for the whole call.
                let fd = unsafe { BorrowedFd::borrow_raw(dmabuf.fd()) };
                let offset = memory.offset() + planes.offsets[0];
                let len = memory.size() - planes.offsets[0];
                let stride = layout.planes()[0].stride as u32;
                let jpeg = encoder
                    .encode_dmabuf(fd, offset, len, width, height, stride, format, quality)
                    .map_err(|e| e.to_string())?;
                return Ok((jpeg.to_vec(), backend_name(encoder)));
            }
        }
        let map = buffer
            .map_readable()
            .map_err(|_| "cannot map the buffer".to_string())?;
        let packed;
        let (data, stride) = match input::in_place(format, width, height, &planes, map.len()) {
            Some(layout) if !reorder => {
                (&map[planes.offsets[0]..], layout.planes()[0].stride as u32)
            }
            _ => {
                packed = input::pack(format, info.format(), width, height, &planes, &map)
                    .ok_or("the frame's planes do not fit its buffer")?;
                (&packed[..], 0)
            }
        };
        let frame =
            amljpeg::Frame::new(data, width, height, stride, format).map_err(|e| e.to_string())?;
        let jpeg = encoder.encode(&frame, quality).map_err(|e| e.to_string())?;
        // A copy: the handle gives the device back at once, for other handles and processes.
        let jpeg = jpeg.to_vec();
        encoder.release();
        Ok((jpeg, backend_name(encoder)))
    }
}

fn backend_name(encoder: &Encoder) -> &'static str {
    match encoder.last_backend() {
        Some(amljpeg::Backend::Hardware) => "hardware",
        Some(amljpeg::Backend::Software) => "software",
        None => "none",
    }
}

impl VideoEncoderImpl for AmlJpegEnc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().clone();
        let choice = match settings.backend {
            Backend::Auto => BackendChoice::Auto,
            Backend::Hardware => BackendChoice::Hardware,
            Backend::Software => BackendChoice::Software,
        };
        let device = settings.device.as_deref().map(std::path::Path::new);
        let encoder = Encoder::open(device, choice).map_err(|e| {
            gst::error_msg!(
                gst::ResourceError::OpenRead,
                ["cannot open the JPEG encoder: {}", e]
            )
        })?;
        *self.state.lock() = Some(State {
            encoder,
            info: None,
            last_backend: "none",
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock() = None;
        Ok(())
    }

    fn set_format(
        &self,
        state: &gst_video::VideoCodecState<'static, gst_video::video_codec_state::Readable>,
    ) -> Result<(), gst::LoggableError> {
        let info = state.info().clone();
        gst::debug!(CAT, imp = self, "input {:?}", info);
        if let Some(s) = self.state.lock().as_mut() {
            s.info = Some(info);
        }
        let caps = gst::Caps::builder("image/jpeg")
            .field("parsed", true)
            .build();
        let obj = self.obj();
        let output = obj
            .set_output_state(caps, Some(state))
            .map_err(|_| gst::loggable_error!(CAT, "cannot set the output state"))?;
        obj.negotiate(output)
            .map_err(|_| gst::loggable_error!(CAT, "cannot negotiate image/jpeg downstream"))
    }

    fn handle_frame(
        &self,
        mut frame: gst_video::VideoCodecFrame,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Read at every frame: quality and subsampling changes take effect at the next one.
        let settings = self.settings.lock().clone();
        let mut guard = self.state.lock();
        let state = guard.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
        let buffer = frame.input_buffer().ok_or(gst::FlowError::Error)?;
        let (jpeg, backend) = match self.encode(state, buffer, &settings) {
            Ok(done) => done,
            Err(e) => {
                drop(guard);
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Encode,
                    ["cannot encode frame {}: {}", frame.system_frame_number(), e]
                );
                return Err(gst::FlowError::Error);
            }
        };
        let previous = std::mem::replace(&mut state.last_backend, backend);
        drop(guard);
        if previous == "hardware" && backend == "software" {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Encode,
                ["the hardware encoder failed or is busy: frames are encoded in software"]
            );
        }
        frame.set_output_buffer(gst::Buffer::from_mut_slice(jpeg));
        self.obj().finish_frame(frame)
    }
}
