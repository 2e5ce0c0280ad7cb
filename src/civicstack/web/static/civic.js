// civicstack's pages work without JavaScript; this module only enhances them.
// Module scripts run only in browsers GOV.UK Frontend supports, so marking the body here is
// the feature test its components expect (no inline script: the CSP forbids it).
import { initAll } from './govuk-frontend.min.js'

document.body.classList.add('js-enabled', 'govuk-frontend-supported')
initAll()

// The session warning (WCAG 2.2.1): a page that carries data-civic-session-remaining (seconds
// until the wallet locks) and data-civic-session-warn (seconds before that to warn) shows its
// warning live, so the person can extend without waiting for the next page; at zero it goes to
// the unlock page. Relative seconds: the page never compares the server's clock with this one.
const session = document.querySelector('[data-civic-session-remaining]')
if (session) {
  const deadline = Date.now() + Number(session.getAttribute('data-civic-session-remaining')) * 1000
  const warnBefore = Number(session.getAttribute('data-civic-session-warn')) * 1000
  const warning = document.getElementById('civic-session-warning')
  const tick = () => {
    const left = deadline - Date.now()
    if (left <= 0) {
      window.location.assign(session.getAttribute('data-civic-session-locked-url') || '/')
      return
    }
    if (warning && left <= warnBefore && warning.hidden) {
      warning.hidden = false
      const heading = warning.querySelector('h2')
      if (heading) {
        heading.setAttribute('tabindex', '-1')
        heading.focus()
      }
    }
    window.setTimeout(tick, 1000)
  }
  tick()
}

// Scanning a QR code (an enhancement of the paste pages): where a textarea is marked
// data-civic-scan, the browser can open a camera and jsQR is loaded, a button opens the camera;
// the first QR code read fills the textarea and sends the form, exactly as pasting would.
const scanTarget = document.querySelector('[data-civic-scan]')
if (scanTarget && window.jsQR && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  const group = scanTarget.closest('.govuk-form-group') || scanTarget
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'govuk-button govuk-button--secondary'
  button.textContent = 'Scan a QR code with your camera'
  const video = document.createElement('video')
  video.className = 'civic-scan__video'
  video.setAttribute('playsinline', '')
  video.setAttribute('aria-label', 'What your camera sees')
  video.muted = true
  video.hidden = true
  const status = document.createElement('p')
  status.className = 'govuk-body'
  status.setAttribute('role', 'status')
  group.after(button, video, status)
  button.addEventListener('click', async () => {
    let stream
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } })
    } catch (error) {
      status.textContent = 'The camera could not be opened. Paste the link instead.'
      return
    }
    video.srcObject = stream
    video.hidden = false
    button.hidden = true
    await video.play()
    status.textContent = 'Point your camera at the QR code.'
    const canvas = document.createElement('canvas')
    const context = canvas.getContext('2d', { willReadFrequently: true })
    const scan = () => {
      if (video.readyState >= 2 && video.videoWidth > 0) {
        canvas.width = video.videoWidth
        canvas.height = video.videoHeight
        context.drawImage(video, 0, 0)
        const image = context.getImageData(0, 0, canvas.width, canvas.height)
        const found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: 'dontInvert' })
        if (found && found.data) {
          stream.getTracks().forEach((track) => track.stop())
          video.hidden = true
          scanTarget.value = found.data
          status.textContent = 'QR code read.'
          scanTarget.form.requestSubmit()
          return
        }
      }
      window.setTimeout(scan, 200)
    }
    scan()
  })
}
