"""Radio arithmetic shared by the hostapd and UCI converters (channel plans are JP's)."""

from __future__ import annotations

from provisioner.intent.models import WifiRadio

# 5 GHz 80 MHz blocks in Japan (W52, W53, W56): first channel -> centre channel index.
_VHT80_BLOCKS = {36: 42, 52: 58, 100: 106, 116: 122, 132: 138}
CHANNELS_24 = range(1, 14)
CHANNELS_5 = (36, 40, 44, 48, 52, 56, 60, 64, 100, 104, 108, 112, 116, 120, 124, 128, 132, 136, 140, 144)


def channel_problem(radio: WifiRadio) -> str | None:
    """Why the radio's channel/width cannot be used in JP, or None."""
    if radio.band == "2.4" and radio.standard != "11n":
        return f"radio {radio.index}: {radio.standard} on 2.4 GHz"
    allowed = {"2.4": (20, 40), "5": (20, 40, 80)}[radio.band]
    if radio.width_mhz not in allowed:
        return f"radio {radio.index}: {radio.width_mhz} MHz on {radio.band} GHz"
    if radio.channel == "auto":
        return None
    channels = CHANNELS_24 if radio.band == "2.4" else CHANNELS_5
    if radio.channel not in channels:
        return f"radio {radio.index}: channel {radio.channel} on {radio.band} GHz in JP"
    if radio.band == "5" and radio.width_mhz == 80 and radio.channel == 144:
        return f"radio {radio.index}: channel 144 has no 80 MHz block in JP"
    return None


def ht40_direction(radio: WifiRadio) -> str:
    """'+' or '-': where the secondary 20 MHz channel sits."""
    ch = radio.channel
    if ch == "auto":
        return "+"
    if radio.band == "2.4":
        return "+" if ch <= 7 else "-"
    return "+" if (ch // 4) % 2 == 1 else "-"   # 36, 44, 52 ... are the lower half of their pair


def vht80_centre(radio: WifiRadio) -> int | None:
    if radio.channel == "auto":
        return None
    for first, centre in _VHT80_BLOCKS.items():
        if first <= radio.channel < first + 16:
            return centre
    return None
