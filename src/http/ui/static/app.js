// The pack browser's progressive enhancements; every page works without them.
// - Copy buttons next to commands and digests (hidden until this script shows them).
// - Filter selects submit their form when changed.
// - Times are shown in the reader's time zone, with how long ago in the tooltip.
'use strict'

function copyText(text, button) {
  const done = () => {
    const label = button.textContent
    button.textContent = 'Copied'
    setTimeout(() => { button.textContent = label }, 1500)
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => selectNear(button))
  } else {
    selectNear(button)
  }
}

// Without the clipboard API (plain HTTP), select the command so that Ctrl+C copies it.
function selectNear(button) {
  const code = button.parentElement && button.parentElement.querySelector('code')
  if (!code) return
  const range = document.createRange()
  range.selectNodeContents(code)
  const selection = window.getSelection()
  selection.removeAllRanges()
  selection.addRange(range)
  button.textContent = 'Press Ctrl+C'
}

const relative = typeof Intl.RelativeTimeFormat === 'function' ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }) : null
const STEPS = [['year', 31536000], ['month', 2592000], ['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]]

function ago(date) {
  const seconds = (date.getTime() - Date.now()) / 1000
  for (const [unit, size] of STEPS) {
    if (Math.abs(seconds) >= size || unit === 'second') return relative.format(Math.round(seconds / size), unit)
  }
  return ''
}

document.addEventListener('DOMContentLoaded', () => {
  for (const button of document.querySelectorAll('button[data-copy]')) {
    button.hidden = false
    button.addEventListener('click', () => copyText(button.dataset.copy, button))
  }
  for (const form of document.querySelectorAll('form[data-autosubmit]')) {
    for (const select of form.querySelectorAll('select')) select.addEventListener('change', () => form.requestSubmit())
  }
  for (const time of document.querySelectorAll('time[datetime]')) {
    const date = new Date(time.getAttribute('datetime'))
    if (Number.isNaN(date.getTime())) continue
    time.textContent = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
    if (relative) time.title = ago(date)
  }
})
