//! The window's side of the kiosk lockdown and its WebKit settings.
//!
//! The window is created fullscreen and undecorated (tauri.conf.json); this
//! keeps it so when a window manager takes fullscreen away (a shortcut, a
//! `_NET_WM_STATE` request) or minimises it: GTK tells us through
//! `window-state-event`, so there is no polling. WebKit's own context menu
//! (Back, Reload, Inspect) is refused here as well as in the page, and what
//! the kiosk's UI never uses is switched off: fewer things to load and to
//! keep in memory.

use tauri::WebviewWindow;

/// Settings that WebKit reads from the environment, in its UI process and in
/// the processes it starts. Called first thing in `run`, while the process
/// has a single thread (setting the environment is only sound then).
///
/// Without compositing the web process builds no GL layer tree: the bench
/// measured ~5 MB less private memory in WebKitWebProcess and no slower
/// start. The settings call in [`after_window`] alone comes too late for
/// that (the view exists by then). A value set by whoever starts the kiosk
/// wins.
pub fn before_threads() {
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
}

/// The kiosk UI is a few static screens: no GL compositing, media, WebGL,
/// WebAudio or page cache. Without compositing WebKit paints with the CPU,
/// the same policy as `chromium --disable-gpu` in the bench. (WebKitGTK 2.50
/// still initialises EGL in both processes, so Mesa's llvmpipe and libLLVM
/// are loaded anyway: ~35 MB of PSS under Xvfb that no setting avoids.)
fn tune(view: &webkit2gtk::WebView) {
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
    };
    if let Some(settings) = WebViewExt::settings(view) {
        settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        settings.set_enable_webgl(false);
        settings.set_enable_webaudio(false);
        settings.set_enable_media(false);
        settings.set_enable_mediasource(false);
        settings.set_enable_media_stream(false);
        settings.set_enable_encrypted_media(false);
        settings.set_enable_webrtc(false);
        settings.set_enable_page_cache(false);
        settings.set_enable_dns_prefetching(false);
        settings.set_enable_back_forward_navigation_gestures(false);
    }
    if let Some(context) = view.context() {
        // One document, shown for hours: no memory cache of past pages.
        context.set_cache_model(CacheModel::DocumentViewer);
    }
}

/// Settings and guards once the window exists. `kiosk` is false for
/// `DPS_WINDOWED=1` (development), which keeps an ordinary window.
pub fn after_window(window: &WebviewWindow, kiosk: bool) {
    let _ = window.with_webview(move |webview| {
        let view = webview.inner();
        tune(&view);
        if kiosk {
            use webkit2gtk::WebViewExt;
            // `true`: handled, so WebKit shows no menu. The page refuses it
            // too (App.svelte), but a page that failed to load would not.
            view.connect_context_menu(|_, _, _, _| true);
        }
    });
    if kiosk {
        match window.gtk_window() {
            Ok(gtk_window) => keep_fullscreen(&gtk_window),
            Err(e) => tracing::warn!("no GTK window to keep fullscreen: {e}"),
        }
    }
}

/// Puts the window back to fullscreen (and un-minimises it) whenever the
/// window manager changes its state.
fn keep_fullscreen(window: &gtk::ApplicationWindow) {
    use gtk::gdk::WindowState;
    use gtk::prelude::*;
    window.connect_window_state_event(|w, event| {
        let changed = event.changed_mask();
        let now = event.new_window_state();
        if changed.contains(WindowState::FULLSCREEN) && !now.contains(WindowState::FULLSCREEN) {
            tracing::info!("the window manager took fullscreen away: asked again");
            w.fullscreen();
        }
        if changed.contains(WindowState::ICONIFIED) && now.contains(WindowState::ICONIFIED) {
            tracing::info!("the window manager minimised the kiosk: shown again");
            w.deiconify();
            w.present();
        }
        gtk::glib::Propagation::Proceed
    });
}
