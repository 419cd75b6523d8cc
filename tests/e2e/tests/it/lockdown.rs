//! A resident cannot leave the kiosk: the real window under the "DPS Kiosk"
//! session's window manager (matchbox with the shipped empty key list, as
//! `packaging/kiosk/kiosk-session` starts it), checked with real X events and
//! X properties (xdotool, wmctrl, xprop, xwininfo): keys go through XTEST
//! like a keyboard's, not through WebDriver (which WebKitGTK's own key
//! handling never sees).

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use dps_e2e::{enabled, Error, Kiosk};

use crate::steward::unlock;

/// Runs an X client tool against the kiosk's display.
fn x(k: &Kiosk, tool: &str, args: &[&str]) -> Result<String, Error> {
    let out: Output = Command::new(tool)
        .args(args)
        .env("DISPLAY", k.display())
        .output()
        .map_err(|e| {
            format!("cannot run {tool} (apt-get install xdotool wmctrl x11-utils): {e}")
        })?;
    if !out.status.success() {
        return Err(format!("{tool} {args:?}: {out:?}").into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The pids of the `dps-kiosk` processes using this data dir.
fn kiosk_pids(k: &Kiosk) -> Vec<u32> {
    let want = format!("XDG_DATA_HOME={}", k.data_dir.path().display());
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|p| {
            let pid: u32 = p.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(p.path().join("exe")).ok()?;
            let env = std::fs::read(p.path().join("environ")).ok()?;
            (exe.file_name().is_some_and(|n| n == "dps-kiosk")
                && env.split(|b| *b == 0).any(|v| v == want.as_bytes()))
            .then_some(pid)
        })
        .collect()
}

/// The managed top-level windows, `(id, pid)`, from the window manager's
/// `_NET_CLIENT_LIST` (`wmctrl -lp`).
fn clients(k: &Kiosk) -> Result<Vec<(String, u32)>, Error> {
    Ok(x(k, "wmctrl", &["-lp"])?
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let id = f.next()?.to_owned();
            let _desktop = f.next()?;
            let pid = f.next()?.parse().ok()?;
            Some((id, pid))
        })
        .collect())
}

/// The kiosk's top-level window, once the window manager manages it.
async fn kiosk_window(k: &Kiosk) -> Result<String, Error> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let pids = kiosk_pids(k);
        if let Some((id, _)) = clients(k)?.into_iter().find(|(_, p)| pids.contains(p)) {
            return Ok(id);
        }
        if Instant::now() > deadline {
            return Err(format!("no managed window of the kiosk (pids {pids:?})").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn active_window(k: &Kiosk) -> Result<u64, Error> {
    let out = x(k, "xprop", &["-root", "_NET_ACTIVE_WINDOW"])?;
    let hex = out.rsplit("0x").next().unwrap_or_default().trim();
    u64::from_str_radix(hex.split(',').next().unwrap_or_default(), 16)
        .map_err(|e| format!("_NET_ACTIVE_WINDOW {out:?}: {e}").into())
}

fn id_of(window: &str) -> Result<u64, Error> {
    u64::from_str_radix(window.trim_start_matches("0x"), 16)
        .map_err(|e| format!("window id {window}: {e}").into())
}

/// What the window manager and the screen say about the kiosk window.
#[derive(Debug, PartialEq)]
struct Shown {
    fullscreen: bool,
    /// Absolute x, y, width, height (xwininfo).
    geometry: (i64, i64, i64, i64),
    /// `_MOTIF_WM_HINTS` asks for no decorations.
    undecorated: bool,
}

fn shown(k: &Kiosk, window: &str) -> Result<Shown, Error> {
    let state = x(k, "xprop", &["-id", window, "_NET_WM_STATE"])?;
    let info = x(k, "xwininfo", &["-id", window])?;
    let field = |name: &str| -> i64 {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1)
    };
    // `_MOTIF_WM_HINTS(_MOTIF_WM_HINTS) = flags, functions, decorations, ...`:
    // the decorations flag (2) set and the decorations word 0.
    let motif = x(k, "xprop", &["-id", window, "_MOTIF_WM_HINTS"])?;
    let words: Vec<u64> = motif
        .split('=')
        .nth(1)
        .unwrap_or_default()
        .split(',')
        .filter_map(|w| u64::from_str_radix(w.trim().trim_start_matches("0x"), 16).ok())
        .collect();
    Ok(Shown {
        fullscreen: state.contains("_NET_WM_STATE_FULLSCREEN"),
        geometry: (
            field("Absolute upper-left X:"),
            field("Absolute upper-left Y:"),
            field("Width:"),
            field("Height:"),
        ),
        undecorated: words.first().is_some_and(|f| f & 2 != 0) && words.get(2) == Some(&0),
    })
}

/// The kiosk as it must always be: fullscreen over the whole 1280x800
/// screen, undecorated.
const KIOSK: Shown = Shown {
    fullscreen: true,
    geometry: (0, 0, 1280, 800),
    undecorated: true,
};

/// Waits until the window is shown as the kiosk (the window manager and
/// GTK answer asynchronously).
async fn wait_kiosk(k: &Kiosk, window: &str, after: &str) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = shown(k, window)?;
        if now == KIOSK {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("after {after}: the window is {now:?}, not {KIOSK:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The viewable override-redirect windows (menus, tooltips) on the display.
fn popups(k: &Kiosk) -> Result<Vec<String>, Error> {
    let tree = x(k, "xwininfo", &["-root", "-children"])?;
    Ok(tree
        .lines()
        .filter(|l| l.trim_start().starts_with("0x"))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| {
            x(k, "xwininfo", &["-id", id])
                .map(|i| i.contains("IsViewable") && i.contains("Override Redirect State: yes"))
                .unwrap_or(false)
        })
        .map(str::to_owned)
        .collect())
}

/// The page's own memory: gone if it was reloaded or navigated away.
async fn page_marker(k: &Kiosk) -> Result<serde_json::Value, Error> {
    Ok(k.client
        .execute("return window.__still_here || null", vec![])
        .await?)
}

#[tokio::test]
async fn no_key_click_or_close_request_leaves_the_kiosk() -> Result<(), Error> {
    if !enabled("no_key_click_or_close_request_leaves_the_kiosk") {
        return Ok(());
    }
    let k = Kiosk::launch_in_session(&[]).await?;
    k.wait_text("h1", "Bienvenue").await?;
    let window = kiosk_window(&k).await?;
    wait_kiosk(&k, &window, "start").await?;
    k.click("[data-action=start]").await?;
    k.find("main[data-screen=procedures]").await?;
    // Marks the page, and records whether each context menu event was
    // refused (registered after the app's own handler, so it sees its verdict).
    k.client
        .execute(
            "window.__still_here = 'yes';
             window.__menus = [];
             window.addEventListener('contextmenu', e => window.__menus.push(e.defaultPrevented));
             return null",
            vec![],
        )
        .await?;
    let pids = kiosk_pids(&k);
    assert_eq!(pids.len(), 1, "one kiosk process: {pids:?}");

    // Keys that leave, close, reload, un-fullscreen or switch, from a real
    // (XTEST) keyboard into the focused kiosk window.
    for keys in [
        "alt+F4",
        "ctrl+w",
        "ctrl+q",
        "F11",
        "Escape",
        "ctrl+r",
        "F5",
        "alt+Left",
        "alt+Tab",
        "alt+d",
        "ctrl+alt+x",
        "super",
    ] {
        x(&k, "xdotool", &["key", "--clearmodifiers", keys])?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            kiosk_pids(&k),
            pids,
            "after {keys}: the kiosk is not running"
        );
        wait_kiosk(&k, &window, keys).await?;
        assert_eq!(
            page_marker(&k).await?,
            serde_json::json!("yes"),
            "after {keys}: the page was reloaded or left"
        );
        k.find("main[data-screen=procedures]").await?;
        assert_eq!(clients(&k)?.len(), 1, "after {keys}: another window opened");
    }

    // A right click in the middle of the page: the page refuses the menu,
    // and no pop-up (a menu is an override-redirect window) is mapped.
    let popups_before = popups(&k)?;
    x(&k, "xdotool", &["mousemove", "640", "400", "click", "3"])?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let menus = loop {
        let m = k.client.execute("return window.__menus", vec![]).await?;
        if m.as_array().is_some_and(|a| !a.is_empty()) || Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        popups(&k)?,
        popups_before,
        "a pop-up (menu) window was mapped by the right click"
    );
    assert_eq!(
        menus,
        serde_json::json!([true]),
        "the context menu was not refused"
    );
    x(&k, "xdotool", &["key", "Escape"])?;

    // The window manager's close (what Alt+F4 does under other window
    // managers): `_NET_CLOSE_WINDOW`, then WM_DELETE_WINDOW to the app.
    x(&k, "wmctrl", &["-i", "-c", &window])?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        kiosk_pids(&k),
        pids,
        "the window manager's close ended the kiosk"
    );
    wait_kiosk(&k, &window, "wmctrl -c").await?;

    // The window manager takes fullscreen away: the kiosk asks for it again.
    x(
        &k,
        "wmctrl",
        &["-i", "-r", &window, "-b", "remove,fullscreen"],
    )?;
    wait_kiosk(&k, &window, "wmctrl -b remove,fullscreen").await?;
    assert_eq!(page_marker(&k).await?, serde_json::json!("yes"));
    Ok(())
}

#[tokio::test]
async fn a_second_start_raises_the_kiosk_and_only_the_pin_quits_it() -> Result<(), Error> {
    if !enabled("a_second_start_raises_the_kiosk_and_only_the_pin_quits_it") {
        return Ok(());
    }
    let k = Kiosk::launch_in_session(&[]).await?;
    k.wait_text("h1", "Bienvenue").await?;
    let window = kiosk_window(&k).await?;
    wait_kiosk(&k, &window, "start").await?;
    let pids = kiosk_pids(&k);

    // Another window takes the front (as any program started on the
    // session would).
    let mut other = Command::new("xmessage")
        .args(["-name", "dps-e2e-other", "another window"])
        .env("DISPLAY", k.display())
        .spawn()
        .map_err(|e| format!("cannot start xmessage (x11-utils): {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while active_window(&k)? == id_of(&window)? {
        if Instant::now() > deadline {
            let _ = other.kill();
            return Err("the other window never took the front".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A second start of the app: no second kiosk, the first is in front.
    let out = Command::new(dps_e2e::app_binary())
        .env("DISPLAY", k.display())
        .env("XDG_DATA_HOME", k.data_dir.path())
        .env("WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS", "1")
        .output()?;
    let raised = async {
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("already open"),
            "{out:?}"
        );
        assert_eq!(kiosk_pids(&k), pids, "a second kiosk process runs");
        let deadline = Instant::now() + Duration::from_secs(5);
        while active_window(&k)? != id_of(&window)? {
            if Instant::now() > deadline {
                return Err::<(), Error>(
                    "the second start did not bring the kiosk to the front".into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        wait_kiosk(&k, &window, "the second start").await
    }
    .await;
    let _ = other.kill();
    let _ = other.wait();
    raised?;

    // Only the steward's "quit", behind the PIN, ends the kiosk.
    unlock(&k).await?;
    // The app exits while WebDriver waits for the click's answer, which may
    // then fail: what counts is that the process is gone.
    let _ = k.click("[data-action=quit]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !kiosk_pids(&k).is_empty() {
        if Instant::now() > deadline {
            return Err("the kiosk did not quit".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
