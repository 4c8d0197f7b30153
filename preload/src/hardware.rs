//! The hardware's side of an image: libamljpeg opened for the object, the collected frame
//! encoded, and the frame headers spliced with the program's component ids; the scan is copied
//! out so the device is free again at once.

use crate::abi::Field;
use crate::amljpeg as aml;
use crate::libjpeg::{Cinfo, HuffTbl};
use crate::splice;
use crate::state::State;

pub fn open_device(st: &mut State) -> Result<(), String> {
    if !st.handle.is_null() {
        return Ok(());
    }
    let api = aml::api()?;
    let mut h = std::ptr::null_mut();
    // SAFETY: NULL device (the default or $AML_JPEG_DEVICE); `h` is writable.
    if unsafe { (api.open)(std::ptr::null(), aml::BACKEND_HARDWARE, &mut h) } != aml::OK {
        // SAFETY: NULL asks for this thread's last open failure.
        return Err(unsafe { aml::last_error(api, std::ptr::null_mut()) });
    }
    let wait = std::env::var("AMLJPEG_PRELOAD_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: a live handle.
    unsafe { (api.set_busy_wait)(h, wait) };
    log!(
        "{} opened the device; the real libjpeg is {}",
        api.path,
        st.real.origin
    );
    st.handle = h;
    Ok(())
}

/// The hardware encode of the collected frame; the body to write goes into `head`/`tail`.
pub fn encode(st: &mut State, c: Cinfo) -> Result<(), String> {
    let api = aml::api()?;
    let job = st.job.as_ref().ok_or("no image")?;
    let (frame, stride, format) = job.frame();
    let h = st.handle;
    let sub = if job.s422 {
        aml::SUBSAMPLING_422
    } else {
        aml::SUBSAMPLING_420
    };
    let (mut out, mut len) = (std::ptr::null(), 0usize);
    // SAFETY: a live handle; the tables are 64 entries; the frame is `frame.len()` bytes laid
    // out as (width, height, stride, format) say; `out`/`len` are writable.
    let status = unsafe {
        (api.set_subsampling)(h, sub);
        (api.set_quant_tables)(h, job.luma.as_ptr(), job.chroma.as_ptr());
        (api.encode)(
            h,
            frame.as_ptr(),
            frame.len(),
            job.width as u32,
            job.height as u32,
            stride as u32,
            format,
            75, // unused: the tables are set
            &mut out,
            &mut len,
        )
    };
    if status != aml::OK {
        // SAFETY: a live handle.
        return Err(format!("the hardware failed ({})", unsafe {
            aml::last_error(api, h)
        }));
    }
    // The JPEG is copied out and the device given back at once, whatever follows: another
    // compress object of this program (or another program) may need it before this one's
    // body is written.
    // SAFETY: libamljpeg's JPEG lives until the handle's next call or release.
    let jpeg = unsafe { std::slice::from_raw_parts(out, len) };
    let cap = &mut st.capture;
    cap.buf.clear();
    cap.buf.extend_from_slice(jpeg);
    cap.len = cap.buf.len();
    // SAFETY: a live handle; the JPEG's bytes are not used past this.
    unsafe { (api.release)(h) };
    let jpeg = &st.capture.buf[..];
    let (head, scan) = splice::frame_headers(jpeg, job.component_ids)?;
    // SAFETY: the object is live.
    if !unsafe { huffman_matches(c, jpeg) } {
        return Err(
            "the program's Huffman tables are not the standard ones the hardware uses".into(),
        );
    }
    log!(
        "{}x{} {} {} on the hardware: {} bytes",
        job.width,
        job.height,
        job.input.name(),
        if job.s422 { "4:2:2" } else { "4:2:0" },
        head.len() + len - scan
    );
    st.head = head;
    // SAFETY: `scan` is within the captured JPEG, which stays put until the next image.
    st.tail = (unsafe { st.capture.buf.as_ptr().add(scan) }, len - scan);
    st.done = 0;
    Ok(())
}

/// Whether the object's Huffman tables 0 and 1 are the ones in the hardware's header.
///
/// # Safety
/// `c` is live.
unsafe fn huffman_matches(c: Cinfo, jpeg: &[u8]) -> bool {
    let found = splice::huffman_tables(jpeg);
    [(0u8, Field::DcHuffTblPtrs), (1, Field::AcHuffTblPtrs)]
        .iter()
        .flat_map(|&(class, f)| (0..2u8).map(move |id| (class, f, id)))
        .all(|(class, f, id)| {
            // SAFETY: checked non-NULL at start; tables live as long as the object.
            let t = unsafe { &*c.ptr::<HuffTbl>(f, id as usize) };
            found.iter().any(|(fc, fi, counts, values)| {
                let n: usize = counts.iter().map(|&v| v as usize).sum();
                (*fc, *fi) == (class, id)
                    && t.bits[1..] == counts[..]
                    && t.huffval.get(..n) == Some(&values[..])
            })
        })
}
