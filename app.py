from memory.model import Namespace


def main() -> None:
    print("hypermnesia")


if __name__ == "__main__":
    main()
