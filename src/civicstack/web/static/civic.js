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
