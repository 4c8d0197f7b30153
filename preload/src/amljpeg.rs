//! libamljpeg, loaded at first use through its C ABI: the drop-in is one more client of the
//! public API. Found as `$AMLJPEG_LIBRARY`, else next to the drop-in (`libamljpeg.so.0` or,
//! in a build tree, `libamljpeg.so`), else by the loader's search for `libamljpeg.so.0`.

use crate::real::symbol;
use libc::{c_char, c_int, c_void};
use std::ffi::{CStr, CString};
use std::sync::OnceLock;

pub const OK: c_int = 0;
pub const BACKEND_HARDWARE: c_int = 1;
pub const FORMAT_RGB24: c_int = 0;
pub const FORMAT_BGR24: c_int = 1;
pub const FORMAT_RGBA32: c_int = 2;
pub const FORMAT_BGRA32: c_int = 3;
pub const FORMAT_I420: c_int = 6;
pub const FORMAT_YUYV: c_int = 7;
pub const SUBSAMPLING_420: c_int = 0;
pub const SUBSAMPLING_422: c_int = 1;

pub type Handle = *mut c_void;

pub struct Api {
    pub open: unsafe extern "C" fn(*const c_char, c_int, *mut Handle) -> c_int,
    pub close: unsafe extern "C" fn(Handle),
    pub set_subsampling: unsafe extern "C" fn(Handle, c_int) -> c_int,
    pub set_quant_tables: unsafe extern "C" fn(Handle, *const u16, *const u16) -> c_int,
    pub set_busy_wait: unsafe extern "C" fn(Handle, i32) -> c_int,
    #[allow(clippy::type_complexity)]
    pub encode: unsafe extern "C" fn(
        Handle,
        *const u8,
        usize,
        u32,
        u32,
        u32,
        c_int,
        c_int,
        *mut *const u8,
        *mut usize,
    ) -> c_int,
    pub release: unsafe extern "C" fn(Handle) -> c_int,
    pub last_error: unsafe extern "C" fn(Handle) -> *const c_char,
    /// Which file it is (for the log).
    pub path: String,
}

/// # Safety
/// `lib` is a live dlopen handle of libamljpeg.
unsafe fn resolve(lib: *mut c_void, path: String) -> Option<Api> {
    // SAFETY: for every symbol below: a live handle; each function has the field's C signature
    // (include/amljpeg.h).
    unsafe {
        Some(Api {
            open: symbol(lib, c"aml_jpeg_open")?,
            close: symbol(lib, c"aml_jpeg_close")?,
            set_subsampling: symbol(lib, c"aml_jpeg_set_subsampling")?,
            set_quant_tables: symbol(lib, c"aml_jpeg_set_quant_tables")?,
            set_busy_wait: symbol(lib, c"aml_jpeg_set_busy_wait")?,
            encode: symbol(lib, c"aml_jpeg_encode")?,
            release: symbol(lib, c"aml_jpeg_release")?,
            last_error: symbol(lib, c"aml_jpeg_last_error")?,
            path,
        })
    }
}

fn candidates() -> Vec<String> {
    let mut paths = Vec::new();
    if let Some(p) = std::env::var_os("AMLJPEG_LIBRARY").filter(|p| !p.is_empty()) {
        paths.push(p.to_string_lossy().into_owned());
    }
    if let Some(own) = crate::real::own_object() {
        if let Some(dir) = std::path::Path::new(&own).parent() {
            for name in ["libamljpeg.so.0", "libamljpeg.so"] {
                paths.push(dir.join(name).to_string_lossy().into_owned());
            }
        }
    }
    paths.push("libamljpeg.so.0".into());
    paths
}

fn load() -> Result<Api, String> {
    let mut tried = Vec::new();
    for path in candidates() {
        let Ok(c) = CString::new(path.clone()) else {
            continue;
        };
        // SAFETY: a NUL-terminated path; loading libamljpeg runs no foreign initialisers
        // beyond Rust's own.
        let lib = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if lib.is_null() {
            tried.push(path);
            continue;
        }
        // SAFETY: a live handle of the library just loaded (kept loaded for good).
        return unsafe { resolve(lib, path.clone()) }
            .ok_or_else(|| format!("{path} lacks an aml_jpeg function this drop-in needs"));
    }
    Err(format!("libamljpeg not found (tried {})", tried.join(", ")))
}

/// libamljpeg's API, loaded once (Err: why it cannot be, for the log).
pub fn api() -> Result<&'static Api, &'static str> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(load).as_ref().map_err(|e| e.as_str())
}

/// The handle's detail message for its last failure.
///
/// # Safety
/// `h` is a live handle of `api`.
pub unsafe fn last_error(api: &Api, h: Handle) -> String {
    // SAFETY: per the contract; the string lives until the handle's next call.
    let p = unsafe { (api.last_error)(h) };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-NULL and NUL-terminated (aml_jpeg_last_error's contract).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}
