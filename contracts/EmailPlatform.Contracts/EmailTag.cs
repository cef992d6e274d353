namespace EmailPlatform.Contracts;

/// <summary>A client-supplied label (ASCII letters, digits, '_' and '-').</summary>
public sealed record EmailTag(string Name, string Value);
