# The native learner addon, native/build/Release/tandem_learner.node (Node-API, node-addon-api).
# Built by native/build.js (`npm ci` runs it; `npm run build:native` rebuilds), not by hand.
#
# BLAS: native/blas.js decides (TANDEM_NATIVE_BLAS=auto|openblas|accelerate|portable): OpenBLAS
# through pkg-config defines TANDEM_OPENBLAS, Accelerate on macOS TANDEM_ACCELERATE, else the
# portable kernel (native/src/gemm.cc).
#
# Flags: C++17, -O3, -fno-math-errno. No -ffast-math (it reorders sums; results must agree with
# the float32 TypeScript learner) and no -march=native (what electron-builder ships runs on any
# x86-64 or arm64: the compiler's baseline vector unit only). C++ exceptions are on
# (NAPI_CPP_EXCEPTIONS): a bad call from JS throws a JS error.
{
  'variables': {
    'tandem_blas%': '<!(node blas.js variant)',
  },
  'targets': [
    {
      'target_name': 'tandem_learner',
      # Every source, listed: the BLAS layer (gemm, blas_exports), the critic ensemble and the
      # actor (addon.cc is the module init; critic.cc the ensemble; actor.cc ActorNative).
      'sources': [
        'src/actor.cc',
        'src/addon.cc',
        'src/blas_exports.cc',
        'src/critic.cc',
        'src/gemm.cc',
      ],
      'include_dirs': [
        "<!(node -p \"require('node-addon-api').include_dir\")",
      ],
      'defines': [
        'NAPI_VERSION=8',
        'NAPI_CPP_EXCEPTIONS',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
      ],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions', '-std=gnu++17', '-std=gnu++20', '-std=c++20'],
      'cflags': ['-O3', '-fno-math-errno'],
      'cflags_cc': ['-std=c++17', '-fexceptions'],
      'xcode_settings': {
        'GCC_ENABLE_CPP_EXCEPTIONS': 'YES',
        'CLANG_CXX_LANGUAGE_STANDARD': 'c++17',
        'CLANG_CXX_LIBRARY': 'libc++',
        'GCC_OPTIMIZATION_LEVEL': '3',
        'MACOSX_DEPLOYMENT_TARGET': '11.0',
        'OTHER_CFLAGS': ['-fno-math-errno'],
      },
      'msvs_settings': {
        'VCCLCompilerTool': {
          'ExceptionHandling': 1,
          'AdditionalOptions': ['/std:c++17'],
        },
      },
      'conditions': [
        ['tandem_blas=="openblas"', {
          'defines': ['TANDEM_OPENBLAS'],
          'include_dirs': ['<!@(node blas.js include_dirs)'],
          'libraries': ['<!@(node blas.js libraries)'],
        }],
        ['tandem_blas=="accelerate"', {
          'defines': ['TANDEM_ACCELERATE'],
          'link_settings': {
            'libraries': ['$(SDKROOT)/System/Library/Frameworks/Accelerate.framework'],
          },
        }],
      ],
    },
  ],
}
