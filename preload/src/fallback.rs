//! The software fallback: when the device cannot take an image whose rows we already hold,
//! the real libjpeg encodes it on a compress object of our own, set up with the program's
//! settings and tables, into our capture buffer. The program's object sees no real libjpeg
//! call, so nothing inside libjpeg (the `jpeg_abort` in `jpeg_finish_compress` frees the
//! image's memory pool, where programs keep their row buffers) touches it, whichever way the
//! library binds its internal calls; and an error that longjmps out of the fallback leaves
//! the program's object, destination included, as it was.

use crate::abi::Field;
use crate::libjpeg::{cs, Cinfo, ComponentHead, DestinationMgr, HuffTbl, QuantTbl};
use crate::splice;
use crate::state::{Capture, State};
use libc::{c_int, c_uint, c_void};

/// The storage of our own compress object (8-byte aligned, the program's ABI's size).
pub struct Private {
    storage: Vec<u64>,
    /// `jpeg_CreateCompress` ran on it: it has pools to free.
    created: bool,
}

impl Private {
    fn ptr(&mut self) -> *mut c_void {
        self.storage.as_mut_ptr().cast()
    }
}

impl State {
    /// Destroys and frees our own object, if there is one (also after an error left it).
    pub fn drop_private(&mut self) {
        if let Some(mut p) = self.private.take() {
            if p.created {
                // SAFETY: an object jpeg_CreateCompress made; destroying is always allowed.
                unsafe { (self.real.destroy_compress)(p.ptr()) };
            }
        }
    }
}

/// Our object, zeroed, with the program's error manager and client data (libjpeg keeps
/// both across `jpeg_CreateCompress`).
///
/// # Safety
/// `c` is the program's live object with `st`'s ABI.
unsafe fn new_private(st: &mut State, c: Cinfo) -> Cinfo {
    st.drop_private();
    let words = st.abi.size.div_ceil(8);
    let private = st.private.insert(Private {
        storage: vec![0u64; words],
        created: false,
    });
    let p = Cinfo {
        ptr: private.ptr(),
        abi: st.abi,
    };
    // SAFETY: both objects are live and have this ABI.
    unsafe {
        p.set_ptr::<c_void>(Field::Err, c.ptr(Field::Err, 0));
        p.set_ptr::<c_void>(Field::ClientData, c.ptr(Field::ClientData, 0));
    }
    p
}

/// Copies what the image's coding depends on from the program's object to ours, after
/// `jpeg_set_defaults`: sampling, component ids, tables, DCT method, raw input.
///
/// # Safety
/// Both objects are live with the same ABI; the program's passed [`crate::job::Job::plan`].
unsafe fn copy_settings(c: Cinfo, p: Cinfo) {
    // SAFETY: per the contract: three components, tables 0 and 1 present in both.
    unsafe {
        for i in 0..3 {
            let (from, to) = (&*c.component(i), p.component(i) as *mut ComponentHead);
            (*to).component_id = from.component_id;
            (*to).h_samp_factor = from.h_samp_factor;
            (*to).v_samp_factor = from.v_samp_factor;
        }
        for i in 0..2 {
            let (from, to) = (
                c.ptr::<QuantTbl>(Field::QuantTblPtrs, i),
                p.ptr::<QuantTbl>(Field::QuantTblPtrs, i),
            );
            (*to).quantval = (*from).quantval;
            for f in [Field::DcHuffTblPtrs, Field::AcHuffTblPtrs] {
                let (from, to) = (c.ptr::<HuffTbl>(f, i), p.ptr::<HuffTbl>(f, i));
                (*to).bits = (*from).bits;
                (*to).huffval = (*from).huffval;
            }
        }
        let mut fields = vec![Field::RawDataIn, Field::DctMethod];
        if c.abi.offset(Field::DoFancyDownsampling).is_some() {
            fields.push(Field::DoFancyDownsampling);
        }
        for f in fields {
            p.set_int(f, c.int(f));
        }
        // The file header is already written, by us, to the program's destination.
        p.set_int(Field::WriteJfifHeader, 0);
        p.set_int(Field::WriteAdobeMarker, 0);
        p.set_ptr::<c_void>(Field::Progress, c.ptr(Field::Progress, 0));
    }
}

/// The real libjpeg encodes the collected image into `st.capture`. Returns false when it could
/// not start (no image); an error inside it leaves through the program's error manager.
///
/// # Safety
/// `st` is live and ours, `c` its object; its rows are all collected. Only plain values are
/// live across the real libjpeg's calls.
pub unsafe fn encode(st: *mut State, c: Cinfo) -> bool {
    // SAFETY: per the contract.
    unsafe {
        let real = (*st).real;
        if (*st).job.is_none() {
            return false;
        }
        let p = crate::guard(|| new_private(&mut *st, c));
        (real.create_compress)(p.ptr, p.abi.version as c_int, p.abi.size);
        if let Some(private) = (*st).private.as_mut() {
            private.created = true;
        }
        for f in [
            Field::ImageWidth,
            Field::ImageHeight,
            Field::InputComponents,
            Field::InColorSpace,
        ] {
            p.set_int(f, c.int(f));
        }
        (real.set_defaults)(p.ptr);
        (real.set_colorspace)(p.ptr, cs::YCBCR);
        copy_settings(c, p);
        let capture: *mut Capture = &mut *(*st).capture;
        (*capture).mgr.init_destination = Some(capture_init);
        (*capture).mgr.empty_output_buffer = Some(capture_empty);
        (*capture).mgr.term_destination = Some(capture_term);
        (*capture).len = 0;
        p.set_ptr(Field::Dest, capture.cast::<DestinationMgr>());
        (real.start_compress)(p.ptr, 1);
        let Some(job) = (*st).job.as_deref() else {
            return false;
        };
        if job.input == crate::job::Input::Raw {
            let lines = job.lines_per_imcu();
            for i in 0..job.height.div_ceil(lines) {
                let mut rows = [[std::ptr::null::<u8>(); 16]; 3];
                for (k, plane) in job.planes.iter().enumerate() {
                    for (r, row) in rows[k].iter_mut().enumerate().take(plane.rows_per_imcu) {
                        let y = (i * plane.rows_per_imcu + r).min(plane.rows - 1);
                        *row = plane.data.as_ptr().add(y * plane.stride);
                    }
                }
                let image = [rows[0].as_ptr(), rows[1].as_ptr(), rows[2].as_ptr()];
                (real.write_raw_data)(p.ptr, image.as_ptr(), lines as c_uint);
            }
        } else {
            for y in 0..job.height {
                let row = [job.rows.as_ptr().add(y * job.row_bytes)];
                (real.write_scanlines)(p.ptr, row.as_ptr(), 1);
            }
        }
        (real.finish_compress)(p.ptr);
        crate::guard(|| (*st).drop_private());
        true
    }
}

/// The capture destination of our object: its `dest` is the [`Capture`] (first member).
///
/// # Safety
/// `cinfo` is our object, whose destination is a live `Capture`.
unsafe fn capture_of<'a>(cinfo: *mut c_void) -> &'a mut Capture {
    // SAFETY: per the contract; `dest` sits at the same offset in every ABI.
    unsafe {
        let dest = *cinfo
            .cast::<u8>()
            .add(crate::abi::dest_offset())
            .cast::<*mut Capture>();
        &mut *dest
    }
}

unsafe extern "C" fn capture_init(cinfo: *mut c_void) {
    crate::guard(|| {
        // SAFETY: libjpeg calls this for our object only.
        let cap = unsafe { capture_of(cinfo) };
        cap.buf.resize(cap.buf.len().max(1 << 16), 0);
        cap.mgr.next_output_byte = cap.buf.as_mut_ptr();
        cap.mgr.free_in_buffer = cap.buf.len();
    })
}

unsafe extern "C" fn capture_empty(cinfo: *mut c_void) -> c_int {
    crate::guard(|| {
        // SAFETY: as above.
        let cap = unsafe { capture_of(cinfo) };
        let used = cap.buf.len();
        cap.buf.resize(used * 2, 0);
        // SAFETY: `used` is within the grown buffer.
        cap.mgr.next_output_byte = unsafe { cap.buf.as_mut_ptr().add(used) };
        cap.mgr.free_in_buffer = used;
        1
    })
}

unsafe extern "C" fn capture_term(cinfo: *mut c_void) {
    crate::guard(|| {
        // SAFETY: as above.
        let cap = unsafe { capture_of(cinfo) };
        cap.len = cap.buf.len() - cap.mgr.free_in_buffer;
    })
}

/// The body of the real libjpeg's JPEG (after its SOI and APPn, already written by us) is
/// what remains to write.
pub fn adopt_capture(st: &mut State) {
    let cap = &st.capture;
    let jpeg = &cap.buf[..cap.len];
    let at = splice::after_file_header(jpeg).unwrap_or(jpeg.len());
    st.head = Vec::new();
    // SAFETY: `at` is within the buffer, which stays put until the next image.
    st.tail = (unsafe { jpeg.as_ptr().add(at) }, jpeg.len() - at);
    st.done = 0;
}
