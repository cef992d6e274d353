namespace EmailPlatform.Contracts;

/// <summary>The lane an email travels in. Serialized by name.</summary>
public enum EmailPriority
{
    Normal = 0,
    High = 1,
    Bulk = 2,
}
