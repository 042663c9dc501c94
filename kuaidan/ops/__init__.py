"""Operations: health, metrics, system monitor, alerts, capacity advice."""
