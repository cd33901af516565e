// webxr-polyfill ships no types: the one constructor the headset page uses.
declare module 'webxr-polyfill' {
  const WebXRPolyfill: new (config?: {
    global?: object;
    webvr?: boolean;
    cardboard?: boolean;
  }) => object;
  export default WebXRPolyfill;
}
