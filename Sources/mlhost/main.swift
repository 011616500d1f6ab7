import MLHostRuntime
print(MLHostVersion.current)
