// Page-side media for the media interop tests (issue 5): a canvas source that
// stamps its capture time into each frame, a reader for the same stamp on
// received video, and a tone source and detector for audio. The stamp is the
// one src/media writes and reads (issue 5 item 1): a row of 40 equal squares
// across the top of the frame, white = 1, black = 0; bits 0-31 are the capture
// wall-clock time in ms modulo 2^32, most significant bit first; bits 32-39
// the XOR of those four bytes. Each function is evaluated inside the page.
'use strict';

// Installs window.M: M.stream() gives a MediaStream with a stamped canvas
// video track and an oscillator audio track; M.watch(video) reads stamps
// from a playing <video>; M.listen(stream) finds the loudest frequency.
function mediaHelpers() {
  const M = window.M = { sent: 0, stamps: [], bad: 0, frames: 0 };
  M.writeStamp = (g, w, ms) => {
    const sq = Math.floor(w / 40);
    const t = ms >>> 0;
    const bytes = [(t >>> 24) & 255, (t >>> 16) & 255, (t >>> 8) & 255, t & 255];
    const check = bytes[0] ^ bytes[1] ^ bytes[2] ^ bytes[3];
    for (let i = 0; i < 40; i++) {
      const bit = i < 32 ? (t >>> (31 - i)) & 1 : (check >>> (39 - i)) & 1;
      g.fillStyle = bit ? '#fff' : '#000';
      g.fillRect(i * sq, 0, sq, sq);
    }
  };
  M.readStamp = (d, w) => {
    // d: ImageData of the frame; sample each square's centre, threshold at mid-grey.
    const sq = Math.floor(w / 40);
    let t = 0, check = 0;
    for (let i = 0; i < 40; i++) {
      const x = i * sq + (sq >> 1), y = sq >> 1;
      const p = (y * w + x) * 4;
      const luma = 0.299 * d.data[p] + 0.587 * d.data[p + 1] + 0.114 * d.data[p + 2];
      const bit = luma > 128 ? 1 : 0;
      if (i < 32) t = ((t << 1) | bit) >>> 0;
      else check = (check << 1) | bit;
    }
    const x = ((t >>> 24) ^ (t >>> 16) ^ (t >>> 8) ^ t) & 255;
    return x === check ? t : null;
  };
  M.stream = (w, h, fps, hz) => {
    const cv = document.createElement('canvas');
    cv.width = w; cv.height = h;
    const g = cv.getContext('2d');
    let n = 0;
    const draw = () => {
      n++;
      // Moving content under the stamp, so the encoder has work to do.
      g.fillStyle = `hsl(${(n * 3) % 360}, 60%, 45%)`;
      g.fillRect(0, 0, w, h);
      g.fillStyle = '#234';
      g.fillRect((n * 7) % w, h / 3, w / 6, h / 3);
      M.writeStamp(g, w, Date.now());
      M.sent++;
    };
    draw();
    M.timer = setInterval(draw, 1000 / fps);
    const video = cv.captureStream(fps).getVideoTracks()[0];
    const ac = M.ac = new AudioContext({ sampleRate: 48000 });
    const osc = ac.createOscillator();
    osc.frequency.value = hz;
    const dest = ac.createMediaStreamDestination();
    osc.connect(dest);
    osc.start();
    return new MediaStream([video, dest.stream.getAudioTracks()[0]]);
  };
  M.watch = (video) => {
    const cv = document.createElement('canvas');
    const g = cv.getContext('2d', { willReadFrequently: true });
    const onFrame = () => {
      const w = video.videoWidth, h = video.videoHeight;
      if (w && h) {
        cv.width = w; cv.height = h;
        g.drawImage(video, 0, 0, w, h);
        const t = M.readStamp(g.getImageData(0, 0, w, Math.ceil(w / 40)), w);
        M.frames++;
        if (t === null) M.bad++;
        else M.stamps.push({ t, at: Date.now() >>> 0 });
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  M.listen = (stream) => {
    const ac = M.rac = new AudioContext({ sampleRate: 48000 });
    const src = ac.createMediaStreamSource(stream);
    const an = M.analyser = ac.createAnalyser();
    an.fftSize = 8192;
    src.connect(an);
  };
  M.peak = () => {
    const an = M.analyser;
    const bins = new Float32Array(an.frequencyBinCount);
    an.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    return { hz: (best * M.rac.sampleRate) / an.fftSize, db: bins[best] };
  };
}

module.exports = { mediaHelpers };
