// Module resolve hook for lib/chat.mjs: @ably/chat's `import "ably"`
// resolves to the ably-js package the tests selected (HERALD_ABLY).

let ablyPackage = 'ably';

export function initialize(data) {
  ablyPackage = data.ablyPackage;
}

export async function resolve(specifier, context, next) {
  if (specifier === 'ably' && context.parentURL?.includes('/node_modules/@ably/chat/')) {
    return next(ablyPackage, context);
  }
  return next(specifier, context);
}
