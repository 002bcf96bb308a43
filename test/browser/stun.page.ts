/**
 * Runs in Chromium. `window.check(iceServers)` says what the browser's RTCPeerConnection and
 * `validateIceServers` each make of one configuration; `window.mint(options)` mints TURN REST
 * credentials with the browser's WebCrypto.
 */
import {
  createTurnCredentials,
  type TurnCredentialOptions,
  validateIceServers,
} from '../../src/stun/index.js';

function check(iceServers: unknown): { browser: string; ours: string } {
  let browser = 'ok';
  try {
    new RTCPeerConnection({ iceServers: iceServers as RTCIceServer[] }).close();
  } catch (error) {
    browser = (error as Error).name;
  }
  let ours = 'ok';
  try {
    validateIceServers(iceServers);
  } catch (error) {
    ours = (error as { code?: string }).code ?? String(error);
  }
  return { browser, ours };
}

function mint(options: TurnCredentialOptions) {
  return createTurnCredentials(options);
}

Object.assign(window, { check, mint, ready: true });
