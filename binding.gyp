# node-gyp entry point for tools that insist on it (node-gyp rebuild, electron-rebuild).
# It holds no build of its own: CMakeLists.txt is the one build definition, driven by
# scripts/build-native.mjs, which leaves the addon in build/Release/minimonkey.node.
{
  "targets": [
    {
      "target_name": "minimonkey_cmake",
      "type": "none",
      "actions": [
        {
          "action_name": "build_with_cmake",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["build/Release/minimonkey.node"],
          "action": ["node", "scripts/build-native.mjs"]
        }
      ]
    }
  ]
}
